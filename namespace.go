package inmem

import "fmt"

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

func (ns Namespace) validate() error {
	for _, f := range [...]string{ns.Tenant, ns.App, ns.Agent} {
		if len(f) > MaxNameSize {
			return fmt.Errorf("namespace field of %d bytes (max %d): %w", len(f), MaxNameSize, ErrTooLarge)
		}
	}
	return nil
}
