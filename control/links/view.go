package links

import (
	"time"
)

// View is a link as it is shown: by the API, which sets ShortLink and
// QRCode, and in events and audit entries, which leave them out. It never
// holds the password, only whether there is one.
type View struct {
	ID             string            `json:"id"`
	Domain         string            `json:"domain"`
	Key            string            `json:"key"`
	URL            string            `json:"url"`
	Title          *string           `json:"title"`
	Description    *string           `json:"description"`
	Image          *string           `json:"image"`
	Tags           []string          `json:"tags"`
	ExternalID     *string           `json:"externalId"`
	Comments       *string           `json:"comments"`
	ExpiresAt      *string           `json:"expiresAt"`
	ExpiredURL     *string           `json:"expiredUrl"`
	HasPassword    bool              `json:"hasPassword"`
	IOS            *string           `json:"ios"`
	Android        *string           `json:"android"`
	Geo            map[string]string `json:"geo"`
	Rules          []RuleInput       `json:"rules"`
	Variants       []Variant         `json:"variants"`
	UTM            UTM               `json:"utm"`
	ForwardQuery   bool              `json:"forwardQuery"`
	RedirectStatus int               `json:"redirectStatus"`
	ValidSince     *string           `json:"validSince"`
	MaxClicks      *int64            `json:"maxClicks"`
	Archived       bool              `json:"archived"`
	Disabled       bool              `json:"disabled"`
	DoIndex        bool              `json:"doIndex"`
	DoNotTrack     bool              `json:"doNotTrack"`
	Preview        *Preview          `json:"preview"`
	Clicks         int64             `json:"clicks"`
	LastClickedAt  *string           `json:"lastClickedAt"`
	CreatedBy      string            `json:"createdBy"`
	CreatedAt      string            `json:"createdAt"`
	UpdatedAt      string            `json:"updatedAt"`
	// The link's public address and its QR code's, which the service
	// does not know.
	ShortLink string `json:"shortLink,omitempty"`
	QRCode    string `json:"qrCode,omitempty"`
}

// TimeFormat is RFC 3339 in UTC with milliseconds, the store's precision.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(TimeFormat)
	return &s
}

// ViewOf is the API view of l.
func ViewOf(l Link) View {
	v := View{
		ID: l.ID, Domain: l.Domain, Key: l.Key, URL: l.URL,
		Title: optString(l.Title), Description: optString(l.Description), Image: optString(l.Image),
		Tags: l.TagNames, ExternalID: optString(l.ExternalID), Comments: optString(l.Comments),
		ExpiresAt: optTime(l.ExpiresAt), ExpiredURL: optString(l.ExpiredURL), HasPassword: l.PasswordHash != "",
		IOS: optString(l.IOS), Android: optString(l.Android), Geo: l.Geo, Rules: l.Rules, Variants: l.Variants,
		UTM: l.UTM, ForwardQuery: !l.NoForwardQuery, RedirectStatus: l.RedirectStatus,
		ValidSince: optTime(l.ValidSince), Archived: l.Archived, Disabled: l.Disabled, DoIndex: l.DoIndex,
		DoNotTrack: l.DoNotTrack, Clicks: l.Clicks, LastClickedAt: optTime(l.LastClickedAt), CreatedBy: l.CreatedBy,
		CreatedAt: l.CreatedAt.UTC().Format(TimeFormat), UpdatedAt: l.UpdatedAt.UTC().Format(TimeFormat),
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Rules == nil {
		v.Rules = []RuleInput{}
	}
	if v.Variants == nil {
		v.Variants = []Variant{}
	}
	if v.RedirectStatus == 0 {
		v.RedirectStatus = 302
	}
	if l.MaxClicks > 0 {
		v.MaxClicks = &l.MaxClicks
	}
	if l.Preview != (Preview{}) {
		p := l.Preview
		v.Preview = &p
	}
	return v
}
