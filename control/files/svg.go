package files

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	xhtml "golang.org/x/net/html"
)

// svgElements are SVG's shapes, text, paint servers, structure and
// filter primitives: what draws. Script, style, foreignObject, a, image,
// use of other documents, animation (which can rewrite attributes such as
// href) and anything else are dropped.
var svgElements = []string{
	"svg", "g", "defs", "title", "desc", "symbol", "use", "switch",
	"path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
	"text", "tspan", "textPath",
	"linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker",
	"filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
	"feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA",
	"feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feMerge", "feMergeNode", "feMorphology",
	"feOffset", "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
}

// svgAttributes are geometry, the presentation attributes and the
// attributes of the elements above that take no URL.
var svgAttributes = []string{
	"id", "class", "lang", "xml:space", "version", "baseProfile",
	"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "width", "height",
	"d", "points", "pathLength", "viewBox", "preserveAspectRatio", "transform", "dx", "dy", "rotate",
	"textLength", "lengthAdjust", "startOffset", "method", "spacing", "side",
	"gradientUnits", "gradientTransform", "spreadMethod", "offset", "patternUnits", "patternContentUnits",
	"patternTransform", "clipPathUnits", "maskUnits", "maskContentUnits", "markerUnits", "markerWidth",
	"markerHeight", "refX", "refY", "orient", "filterUnits", "primitiveUnits", "in", "in2", "result",
	"mode", "type", "values", "tableValues", "slope", "intercept", "amplitude", "exponent", "operator",
	"k1", "k2", "k3", "k4", "order", "kernelMatrix", "divisor", "bias", "targetX", "targetY", "edgeMode",
	"preserveAlpha", "surfaceScale", "diffuseConstant", "specularConstant", "specularExponent",
	"kernelUnitLength", "scale", "xChannelSelector", "yChannelSelector", "stdDeviation", "radius",
	"baseFrequency", "numOctaves", "seed", "stitchTiles", "azimuth", "elevation", "z", "pointsAtX",
	"pointsAtY", "pointsAtZ", "limitingConeAngle",
	// Presentation attributes.
	"alignment-baseline", "baseline-shift", "clip-rule", "color", "color-interpolation",
	"color-interpolation-filters", "direction", "display", "dominant-baseline", "fill-opacity",
	"fill-rule", "flood-color", "flood-opacity", "font-family", "font-size", "font-size-adjust",
	"font-stretch", "font-style", "font-variant", "font-weight", "image-rendering", "letter-spacing",
	"lighting-color", "opacity", "overflow", "paint-order", "pointer-events", "shape-rendering",
	"stop-color", "stop-opacity", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
	"stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width", "text-anchor",
	"text-decoration", "text-rendering", "unicode-bidi", "vector-effect", "visibility", "word-spacing",
	"writing-mode",
}

// svgPaintAttributes may name a paint server or a resource, but only in
// this document: url(#id).
var svgPaintAttributes = []string{"fill", "stroke", "clip-path", "mask", "filter", "marker-start", "marker-mid", "marker-end"}

var (
	localRef  = regexp.MustCompile(`^#[A-Za-z_][\w.:-]*$`)
	paintSafe = regexp.MustCompile(`^(?:[^(]|url\(\s*#[\w.:-]+\s*\)|(?:rgba?|hsla?)\([\d\s.,%+-]*\))*$`)
)

// svgPolicy is built once: a bluemonday Policy is safe for concurrent
// use once built.
var svgPolicy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(svgElements...)
	p.AllowAttrs(svgAttributes...).Globally()
	p.AllowAttrs(svgPaintAttributes...).Matching(paintSafe).Globally()
	p.AllowAttrs("href", "xlink:href").Matching(localRef).Globally()
	p.AllowRelativeURLs(true)
	p.AllowAttrs("xmlns").Matching(regexp.MustCompile(`^http://www\.w3\.org/2000/svg$`)).OnElements("svg")
	p.AllowAttrs("xmlns:xlink").Matching(regexp.MustCompile(`^http://www\.w3\.org/1999/xlink$`)).OnElements("svg")
	p.SkipElementsContent("script", "style", "foreignObject", "foreignobject")
	return p
})

// svgNames maps the lower-case names of the HTML tokenizer bluemonday
// parses with back to SVG's mixed-case ones: SVG is XML, case matters.
var svgNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, list := range [][]string{svgElements, svgAttributes, svgPaintAttributes, {"xlink:href", "xmlns:xlink"}} {
		for _, n := range list {
			m[strings.ToLower(n)] = n
		}
	}
	return m
})

// sanitizeSVG keeps what svgPolicy allows of b and writes it back as XML
// with SVG's names, prefixed with an XML declaration.
func sanitizeSVG(b []byte) []byte {
	clean := svgPolicy().SanitizeBytes(b)
	names := svgNames()
	name := func(n string) string {
		if v, ok := names[n]; ok {
			return v
		}
		return n
	}
	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	z := xhtml.NewTokenizer(bytes.NewReader(clean))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case xhtml.TextToken:
			out.WriteString(html.EscapeString(tok.Data))
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			out.WriteString("<" + name(tok.Data))
			for _, a := range tok.Attr {
				k := a.Key
				if a.Namespace != "" {
					k = a.Namespace + ":" + k
				}
				out.WriteString(" " + name(k) + `="` + html.EscapeString(a.Val) + `"`)
			}
			if tt == xhtml.SelfClosingTagToken {
				out.WriteString("/>")
			} else {
				out.WriteString(">")
			}
		case xhtml.EndTagToken:
			out.WriteString("</" + name(tok.Data) + ">")
		}
	}
	return out.Bytes()
}

// svgSize reads the root element's width and height, or its viewBox's
// when they are not plain numbers (or px); 0, 0 when neither says.
func svgSize(b []byte) (int, int) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	for {
		t, err := d.Token()
		if err == io.EOF || err != nil {
			return 0, 0
		}
		se, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		var w, h, vb string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "width":
				w = a.Value
			case "height":
				h = a.Value
			case "viewBox":
				vb = a.Value
			}
		}
		if wi, hi := svgLength(w), svgLength(h); wi > 0 && hi > 0 {
			return wi, hi
		}
		f := strings.FieldsFunc(vb, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
		if len(f) == 4 {
			return svgLength(f[2]), svgLength(f[3])
		}
		return 0, 0
	}
}

func svgLength(s string) int {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "px"), 64)
	if err != nil || v <= 0 || v > 1<<30 {
		return 0
	}
	return int(v + 0.5)
}

// wellFormed checks that b, a sanitised SVG, is one well-formed XML
// element, an svg: what the sanitiser's HTML parser accepts may not be
// (an unclosed element, two roots, a raw-text element that swallowed the
// rest), and a browser shows such a file as an error.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		t, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.StartElement:
			if depth == 0 {
				if roots++; roots > 1 || t.Name.Local != "svg" {
					return fmt.Errorf("root element %d is <%s>, want one <svg>", roots, t.Name.Local)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || roots != 1 {
		return fmt.Errorf("%d roots, %d elements left open", roots, depth)
	}
	return nil
}
