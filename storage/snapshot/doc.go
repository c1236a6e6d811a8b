// Package snapshot freezes a time window of the data — records, L4 flows
// and raw packets — under a name, so that an investigation can come back to
// exactly what was seen even after retention has moved on. It sits beside
// the live store: a snapshot is a directory holding its own storage.Store
// (records and flows copied with their ids, so links between them and to
// the snapshot's calls keep working), a packet log with the window's
// packets (runtime/packetlog), and info.json. It is built in a temporary
// directory and renamed into place, so a snapshot either exists whole or
// not at all, and nothing writes to it afterwards.
//
// A snapshot's raw packets can be dissected again (Manager.StartDissection),
// for instance after a dissector was installed or when live dissection was
// off: a background job runs the caller's pipeline over the packets into a
// store of its own under dissections/, recording its progress in
// dissection.json, and queries of the snapshot then read the newest
// completed one (Manager.DissectedStore); the snapshot itself stays as made.
package snapshot
