// Package qr renders designed QR codes as PNG or SVG. yeqown/go-qrcode
// computes the modules; this package chooses sizes and colours, draws the
// modules, and places a logo. The text encoded is the caller's (the API
// passes the short link with ?qr=1).
//
// Options, as the API takes them in the query string (ParseOptions):
//
//	param    values                       default  notes
//	format   png | svg                    png
//	size     64..2048 pixels              600      the image is exactly size×size
//	level    L | M | Q | H                M        H whenever there is a logo
//	fgColor  #rgb | #rrggbb (# optional)  #000000  opaque; darker than bgColor
//	bgColor  #rgb | #rrggbb (# optional)  #ffffff  contrast ≥ 3:1 with fgColor
//	margin   0..16 modules                4        the quiet zone the standard asks for is 4
//	logo     file_… id of an image file   none     fetched by the caller
//	scale    1..40 pixels a module        none     older form of size; not with size
//
// Every bad value is a VALIDATION_ERROR naming its parameter; unknown
// parameters are ignored.
//
// Contract:
//
//   - PNG: size×size pixels. A module is floor(size / (modules + 2·margin))
//     pixels, never fractional (a scanner needs crisp edges); the pixels
//     left over are added to the margin, half on each side (the extra pixel
//     of an odd remainder right and below). A size too small for one pixel
//     a module is refused on size. Paletted (two colours) without a logo.
//     With scale, a module is scale pixels and the image as large as that
//     makes it (at most 2048).
//   - SVG: a background <rect> and ONE <path> holding every dark module
//     (horizontal runs merged), viewBox in modules, width and height = size.
//     No raster, except a logo: it is embedded as a data: PNG <image> over a
//     cleared square, at the pixel size it has in the PNG of the same size.
//   - Colours: the WCAG contrast ratio of fgColor and bgColor must be at
//     least 3:1 (WCAG's minimum for graphics), and fgColor the darker:
//     common readers (ZXing's defaults, many phone cameras) do not try
//     inverted codes. No alpha: a transparent background scans only on
//     what it is printed over.
//   - Logo: centred on a square of whole modules cleared to bgColor, at most
//     20% of the code's area, and never over the finder patterns, their
//     separators or the format information (a square within 9 modules of
//     every edge). The logo forces level H (30% of the codewords
//     recoverable) and version 4 or more, so there is room for it. The
//     image is scaled to fit the square, its aspect ratio kept.
//
// It must not fetch anything: a logo is an image.Image the caller loaded.
package qr
