package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// qrDesign is the QR designer of a link's page: the options as typed
// (named as GET /v1/links/{id}/qr names them), the org's image files to
// take a logo from, and, once the options are accepted, the URL of the
// code drawn with them.
type qrDesign struct {
	Format, Size, Level, FGColor, BGColor, Margin, Logo string
	// Logos are the org's image files a logo may be; LogosErr says why
	// they could not be listed, NoLogos that the person may not read
	// files (the select is not offered).
	Logos    []apiclient.File
	LogosErr string
	NoLogos  bool
	// Image is the dashboard's QR route with the options ("": the form
	// was not sent, or the API refused it).
	Image string
}

// qrFields are the designer's fields, named as the API names them,
// beside which its refusals are shown.
var qrFields = []string{"format", "size", "scale", "level", "fgColor", "bgColor", "margin", "logo"}

// qrDefaults are the API's defaults, which the form starts from.
func qrDefaults() qrDesign {
	return qrDesign{Format: "png", Size: "600", Level: "M", FGColor: "#000000", BGColor: "#ffffff", Margin: "4"}
}

// qrDesignOf reads the designer's options from q, and whether the form
// was sent (any of them given).
func qrDesignOf(q url.Values) (qrDesign, bool) {
	d, sent := qrDefaults(), false
	for _, f := range []struct {
		name string
		dst  *string
	}{{"format", &d.Format}, {"size", &d.Size}, {"level", &d.Level}, {"fgColor", &d.FGColor},
		{"bgColor", &d.BGColor}, {"margin", &d.Margin}, {"logo", &d.Logo}} {
		if q.Has(f.name) {
			*f.dst, sent = strings.TrimSpace(q.Get(f.name)), true
		}
	}
	return d, sent
}

// options are d as the API's options; a number that is not one is the
// form's own error, by field.
func (d qrDesign) options() (apiclient.QROptions, map[string]string) {
	o := apiclient.QROptions{Format: d.Format, Level: d.Level, FGColor: d.FGColor, BGColor: d.BGColor, Logo: d.Logo}
	bad := map[string]string{}
	if d.Size != "" {
		n, err := strconv.Atoi(d.Size)
		if err != nil || n <= 0 {
			bad["size"] = "must be a whole number of pixels"
		}
		o.Size = n
	}
	if d.Margin != "" {
		n, err := strconv.Atoi(d.Margin)
		if err != nil {
			bad["margin"] = "must be a whole number of modules"
		}
		o.Margin = &n
	}
	if len(bad) > 0 {
		return o, bad
	}
	return o, nil
}

// logos lists the org's image files (one page of the API: the first 100)
// when the person may read files.
func (h *Handler) logos(r *http.Request, s *session, d *qrDesign) {
	if !s.Can("files", "read") {
		d.NoLogos = true
		return
	}
	var p apiclient.Page[apiclient.File]
	err := s.api.Do(r.Context(), "GET", "/v1/files", url.Values{"limit": {"100"}}, nil, &p)
	switch {
	case apiclient.IsCode(err, apierror.NotFound): // a server that keeps no files
		d.NoLogos = true
		return
	case err != nil:
		d.LogosErr = h.message(r, err)
		return
	}
	for _, f := range p.Data {
		if strings.HasPrefix(f.Type, "image/") && f.Type != "image/svg+xml" {
			d.Logos = append(d.Logos, f)
		}
	}
}

// design fills the link page's designer from the request: when the form
// was sent, the API draws the code once with its options, so that a
// refusal is shown beside its field rather than as a broken image. It
// answers the field errors and message of a refusal, or the error of an
// answer that is a page of its own (fail).
func (h *Handler) design(r *http.Request, s *session, id string) (d qrDesign, fields map[string]string, msg string, err error) {
	d, sent := qrDesignOf(r.URL.Query())
	h.logos(r, s, &d)
	if !sent {
		return d, nil, "", nil
	}
	o, bad := d.options()
	if bad != nil {
		return d, bad, "Please correct the QR code's fields marked below.", nil
	}
	if _, err := s.api.LinkQR(r.Context(), id, o); err != nil {
		fields, msg, ok := fieldErrors(err, qrFields...)
		if !ok {
			return d, nil, "", err
		}
		return d, fields, msg, nil
	}
	d.Image = "/links/" + url.PathEscape(id) + "/qr?" + o.Values().Encode()
	return d, nil, "", nil
}

// qrOptionsOf is the QR route's options: the designer's, passed through
// to the API as given (it validates them).
func qrOptionsOf(q url.Values) apiclient.QROptions {
	o := apiclient.QROptions{Format: q.Get("format"), Level: q.Get("level"), FGColor: q.Get("fgColor"),
		BGColor: q.Get("bgColor"), Logo: q.Get("logo")}
	if o.Format != "svg" {
		o.Format = "png"
	}
	if v := q.Get("size"); v != "" {
		o.Size, _ = strconv.Atoi(v)
		if o.Size <= 0 {
			o.Size = -1
		}
	}
	if v := q.Get("scale"); v != "" {
		o.Scale, _ = strconv.Atoi(v)
		if o.Scale <= 0 {
			o.Scale = -1
		}
	}
	if v := q.Get("margin"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1
		}
		o.Margin = &n
	}
	return o
}
