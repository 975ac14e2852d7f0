package analytics

import "time"

// Engines keep rollups: clicks counted at ingest per UTC hour and UTC day,
// by one dimension at a time. Pieces and RollupDimension say, once for
// every engine, which part of a query rollups can answer.

// A Piece is part of one bucket of a query, read one way: whole UTC hours
// or whole UTC days (Unit Hour or Day), which rollups answer, or a part of
// an hour (Unit 0), read from the clicks themselves.
type Piece struct {
	Bucket   int
	Unit     Interval // Hour, Day, or 0 for a part of an hour
	From, To time.Time
}

// Pieces cuts each bucket of a checked query (Buckets), within [Start,
// End), into UTC days, the whole hours around them, and the parts of hours
// at its ends. A bucket whose bounds are whole UTC hours (UTC, New York)
// has no parts; one at a half-hour offset (India), or a range starting at
// 10:17, has a part of an hour at an end. Nothing before 1970 is in a
// piece: no engine stores clicks from then.
func (q *Query) Pieces() []Piece {
	bounds := q.Buckets()
	epoch := time.Unix(0, 0)
	var out []Piece
	for i := 0; i+1 < len(bounds); i++ {
		a, b := latest(bounds[i], q.Start, epoch), earliest(bounds[i+1], q.End)
		if !a.Before(b) {
			continue
		}
		ha, hb := ceil(a, time.Hour), b.Truncate(time.Hour)
		if !ha.Before(hb) {
			out = append(out, Piece{Bucket: i, From: a, To: b})
			continue
		}
		if a.Before(ha) {
			out = append(out, Piece{Bucket: i, From: a, To: ha})
		}
		hours := func(from, to time.Time) {
			if from.Before(to) {
				out = append(out, Piece{Bucket: i, Unit: Hour, From: from, To: to})
			}
		}
		if da, db := ceil(ha, 24*time.Hour), hb.Truncate(24*time.Hour); da.Before(db) {
			hours(ha, da)
			out = append(out, Piece{Bucket: i, Unit: Day, From: da, To: db})
			hours(db, hb)
		} else {
			hours(ha, hb)
		}
		if hb.Before(b) {
			out = append(out, Piece{Bucket: i, From: hb, To: b})
		}
	}
	return out
}

// RollupDimension is the one dimension besides the link that q involves,
// grouped or filtered, DimTotal when none. ok is false when it involves
// more than one: rollups of one dimension at a time cannot answer it.
func (q *Query) RollupDimension() (d Dimension, ok bool) {
	d = DimTotal
	involved := 0
	for _, f := range Dimensions {
		if f != DimLink && !q.Filter.Get(f).Any() {
			involved++
			d = f
		}
	}
	if g := q.GroupBy.Dimension(); g != DimTotal && g != DimLink && g != d {
		involved++
		d = g
	}
	return d, involved <= 1
}

// ceil is t rounded up to a multiple of d (time.Truncate's multiples:
// whole UTC hours and days).
func ceil(t time.Time, d time.Duration) time.Time {
	if f := t.Truncate(d); !f.Equal(t) {
		return f.Add(d)
	}
	return t
}

func latest(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
