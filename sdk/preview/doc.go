// Package preview turns message bodies into the bounded previews the record
// contract carries: Content-Encoding codings undone (gzip, deflate, stacked),
// at most MaxBytes kept, text as text and anything else as base64. HTTP/1,
// HTTP/2 and any dissector that carries payloads share it.
package preview

// MaxBytes is the size of a body preview, after content decoding.
const MaxBytes = 16 << 10
