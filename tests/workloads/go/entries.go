// tests/workloads/go/entries.go — prints the entry address of every
// function in an ELF's .gopclntab, read with Go's own debug/gosym (the same
// reader `go tool addr2line` uses), so tests can ask ember about every
// function entry of a stripped Go binary.
//
// usage: entries BINARY
package main

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"os"
)

func main() {
	f, err := elf.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	s := f.Section(".gopclntab")
	data, _ := s.Data()
	text := f.Section(".text").Addr
	t, err := gosym.NewTable(nil, gosym.NewLineTable(data, text))
	if err != nil {
		panic(err)
	}
	for _, fn := range t.Funcs {
		fmt.Printf("%#x\n", fn.Entry)
	}
}
