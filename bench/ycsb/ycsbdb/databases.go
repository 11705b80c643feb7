package ycsbdb

import (
	"errors"
	"fmt"
	"os"

	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// Database is one binding: its name and its creator.
type Database struct {
	Name    string
	Creator ycsb.DBCreator
	// OnDisk tells whether it keeps its data in DirProperty's directory.
	OnDisk bool
}

// Databases lists every binding, inmem first.
var Databases = []Database{
	{"inmem", InmemCreator{}, true},
	{"badger", BadgerCreator{}, true},
	{"pebble", PebbleCreator{}, true},
	{"bbolt", BoltCreator{}, true},
	{"btree", BTreeCreator{}, false},
	{"sqlite", SQLiteCreator{}, true},
}

// Lookup returns the binding called name.
func Lookup(name string) (Database, error) {
	for _, d := range Databases {
		if d.Name == name {
			return d, nil
		}
	}
	return Database{}, fmt.Errorf("unknown database %q", name)
}

// Open creates the binding's database with its files in dir.
func (d Database) Open(dir string) (ycsb.DB, error) {
	p := properties.NewProperties()
	if _, _, err := p.Set(DirProperty, dir); err != nil {
		return nil, err
	}
	return d.Creator.Create(p)
}

func dirOf(p *properties.Properties) (string, error) {
	dir := p.GetString(DirProperty, "")
	if dir == "" {
		return "", errors.New("no directory: set the " + DirProperty + " property")
	}
	if fi, err := os.Stat(dir); err != nil {
		return "", err
	} else if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return dir, nil
}
