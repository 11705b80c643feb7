package inmemeino

import (
	"github.com/cloudwego/eino/compose"
	"github.com/inmem-db/inmem"
)

// The core module's store is Eino's interface as it is.
var _ compose.CheckPointStore = (*inmem.CheckPointStore)(nil)

// NewCheckPointStore returns db's checkpoint store of namespace ns as an
// Eino compose.CheckPointStore, for compose.WithCheckPointStore.
func NewCheckPointStore(db *inmem.DB, ns inmem.Namespace, opts ...inmem.CheckPointOption) compose.CheckPointStore {
	return db.CheckPointStore(ns, opts...)
}
