package linkcsv_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/h0p/h0p/control/linkcsv"
)

func ExampleReader() {
	file := strings.NewReader(`"createdAt","domain","shortCode","shortUrl","longUrl","title","tags","visits"
"2023-05-01T10:20:30+02:00","s.test","docs","https://s.test/docs","https://example.com/docs","Docs","a|b",42
"yesterday","s.test","old","https://s.test/old","https://example.com/old","","",0
`)
	r, err := linkcsv.NewReader(file)
	if err != nil {
		fmt.Println("refuse the file:", err)
		return
	}
	fmt.Println("format:", r.Format())
	for {
		row, err := r.Next()
		var rowErr *linkcsv.RowError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &rowErr):
			fmt.Println("report and go on:", rowErr)
			continue
		case err != nil:
			fmt.Println("stop:", err)
			return
		}
		fmt.Println(row.Line, row.Domain, row.Key, row.URL, row.Tags, row.CreatedAt.UTC(), row.Clicks)
	}
	// Output:
	// format: shlink
	// 2 s.test docs https://example.com/docs [a b] 2023-05-01 08:20:30 +0000 UTC 42
	// report and go on: line 3: createdAt: "yesterday" is not a date (want RFC 3339, e.g. 2024-05-01T12:00:00Z)
}

func ExampleWriter() {
	w := linkcsv.NewWriter(os.Stdout)
	w.Write(linkcsv.ExportRow{
		ID: "lnk_1", Domain: "h0p.test", Key: "docs", URL: "https://example.com/docs",
		ShortLink: "https://h0p.test/docs", Title: "=HYPERLINK(\"http://evil.test\")",
		Tags: []string{"docs", "product"}, Clicks: 42,
		CreatedAt: time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
	})
	if err := w.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// url,key,domain,title,tags,createdAt,externalId,id,shortLink,clicks
	// https://example.com/docs,docs,h0p.test,"'=HYPERLINK(""http://evil.test"")",docs|product,2024-05-01T12:00:00Z,,lnk_1,https://h0p.test/docs,42
}
