package inmem

import (
	"fmt"
	"unicode/utf8"
)

// Namespace scopes runs and shared data: tenant, application, agent. Empty
// fields mean "default". Data in one namespace is never visible from another.
type Namespace struct {
	Tenant, App, Agent string
}

// String returns "tenant/app/agent", with "-" for a default field.
func (ns Namespace) String() string {
	f := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return f(ns.Tenant) + "/" + f(ns.App) + "/" + f(ns.Agent)
}

// validate checks each field against MaxNameSize and refuses bytes that are
// not UTF-8: a run's namespace is stored as JSON, which would replace them
// and so move the run to another namespace on reload.
func (ns Namespace) validate() error {
	for _, f := range [...]struct{ name, value string }{
		{"Tenant", ns.Tenant}, {"App", ns.App}, {"Agent", ns.Agent},
	} {
		if len(f.value) > MaxNameSize {
			return fmt.Errorf("namespace %s of %d bytes (max %d): %w", f.name, len(f.value), MaxNameSize, ErrTooLarge)
		}
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("namespace %s is not UTF-8: %w", f.name, ErrInvalidArgument)
		}
	}
	return nil
}
