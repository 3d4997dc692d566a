//go:build race

package main

// raceEnabled says the tests run with the race detector, so the binary the
// process tests drive is built with it too.
const raceEnabled = true
