// Package logging builds Conveyor's slog loggers: JSON lines that carry the
// trace id of the change being processed and never a secret.
package logging
