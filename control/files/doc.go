// Package files is an org's uploaded files: their metadata in the control
// store, their bytes in a Store (control/files/blobs), stored once per
// SHA-256 however many files name them.
//
// An upload is checked whole before anything is stored: at most MaxBytes
// (413), its type sniffed from the bytes alone, never from a header or
// the name — PNG, JPEG, GIF, WebP, SVG or PDF, anything else
// UNSUPPORTED_MEDIA_TYPE naming what it is — an image's width and height
// read from its header without decoding pixels (more than MaxSide a side
// or MaxPixels in all, or a header that cannot be read: 400), and the
// org's plan (files, filesStorageBytes: 403). An SVG is sanitised first
// and stored, hashed and measured as sanitised: its drawing elements
// (shapes, text, gradients, patterns, clip paths, masks, markers, filter
// primitives, g/defs/symbol/use) with geometry and presentation
// attributes only; no script, style, foreignObject, a, image or
// animation, no on* attribute, href only to a #fragment of the document,
// url() only to #fragment. Names are metadata, cleaned (CleanName).
//
// Bytes and rows stay consistent without a lock across nodes: Upload
// Puts the bytes (idempotent), then in one transaction inserts the row,
// counts one more reference to the blob and writes the audit entry; after
// the commit it Stats the bytes and Puts them again if a sweep removed
// them meanwhile. Delete removes the row and counts one reference less in
// one transaction; a blob left at 0 references keeps its bytes for Grace.
// Sweep (every node, RunSweeper) removes bytes unreferenced for Grace, and
// bytes older than Grace that no row knows (a crash between Put and
// commit), each inside a transaction holding the blob's row, locked or
// claimed, so that an upload of the same bytes waits and then stores
// them again. The orphan pass lists every stored object.
//
// Links use files (control/links): a link's image and preview image may
// name a raster image file of its org; a QR code's logo is one too
// (LogoImage: PNG, JPEG, GIF or WebP of at most MaxLogoSide a side), and a
// code saved as a file (SaveQR) names its link and its logo's file
// (LinkID, LogoFileID). References lists them. Delete refuses a file in use
// (ALREADY_EXIST) unless forced; forced, it runs inside the links
// service's transaction (Unlinker), which clears the file from each link
// as a link update replicated to the edges; a QR code keeps its bytes.
//
// Files are served to the public by control, not by the edges, at
// URLs.URL: {APIURL}/f/{id}/{sig}, sig an HMAC of the ID under a key
// derived from the pepper. An edge answers from its replicated store only
// and never fetches from control while answering, and file bytes are not
// replicated; the edges get a link's image as this URL, and social bots
// fetch it from control's public address. OpenPublic answers a wrong
// signature as a missing file, before any store read.
//
// A file answers with the bytes of its stored type, ETag its SHA-256;
// the API (control/api) serves SVG as an attachment unless the request is
// an image's (Sec-Fetch-Dest: image), every file under a CSP that runs
// and loads nothing.
package files
