package sdktest

import "github.com/kubeshark-wasm/kubeshark/sdk"

// Schedule cuts a client and a server byte stream into deliveries the way a
// fuzz target's chunks bytes say, so that fuzzing explores segmentation and
// loss as well as content: bit 7 of each chunk byte picks the direction,
// bits 0–5 the delivery's size minus one, and bit 6 together with bit 0
// turns the delivery into a loss. Once the chunk bytes are used up, each
// direction's remainder goes in one delivery. step is called for each
// delivery with an increasing time; Schedule returns the time after the
// last one.
func Schedule(client, server, chunks []byte, step func(dir sdk.Direction, data []byte, lost bool, ts int64)) int64 {
	if len(chunks) == 0 {
		chunks = []byte{0xff}
	}
	streams := [2][]byte{client, server}
	ts := int64(1)
	for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
		b := chunks[i%len(chunks)]
		dir := sdk.Direction(b >> 7)
		if len(streams[dir]) == 0 {
			dir = dir.Reverse()
		}
		n := min(int(b&0x3f)+1, len(streams[dir]))
		if i >= len(chunks) {
			n = len(streams[dir])
		}
		step(dir, streams[dir][:n], b&0x40 != 0 && b&1 == 1, ts)
		streams[dir] = streams[dir][n:]
		ts++
	}
	return ts
}
