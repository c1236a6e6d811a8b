// Package capture reads recorded traffic: it is the first stage of the
// offline pipeline (capture → runtime/decode → runtime/reassembly →
// dissectors → storage). A Source hands out raw link-layer frames with their
// capture metadata; it knows nothing about IP or TCP.
//
// Files are recognised by their magic bytes rather than their names, because
// captures are routinely renamed, gzipped or saved with the wrong extension.
// Classic pcap (either byte order, micro- or nanosecond timestamps), pcapng
// (several interfaces with different link types) and gzip-compressed forms of
// both are read through gopacket's pcapgo. The byte offsets reported in
// Packet.Offset and TruncatedError are counted in the decompressed stream so
// that they can be checked with a hex dump of the uncompressed capture.
package capture
