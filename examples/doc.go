// Package examples holds complete plugin projects for protocols kubeshark
// does not build in, each as `kubeshark plugin new` makes it (source,
// Makefile, README, golden records) in its own directory and its own Go
// module or toolchain. This package only tests them end to end: each
// example's test records its real server and client on loopback, builds the
// plugin with `kubeshark plugin build`, compares its records with the golden
// file with `kubeshark plugin test`, installs it and queries the records
// with `kubeshark calls --filter`. It sits outside the data flow: nothing
// imports it.
package examples
