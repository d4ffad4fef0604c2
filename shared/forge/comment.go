package forge

import (
	"context"
	"errors"
	"fmt"
)

// Commenter comments on pull requests: notifications told where the
// change is reviewed. Every adapter implements it; it is apart from Forge
// so that a forge fake need not.
type Commenter interface {
	// Comment adds body as a comment on PR number.
	Comment(ctx context.Context, number int, body string) error
}

// Comment implements Commenter when the decorated forge does.
func (r *Retrying) Comment(ctx context.Context, n int, body string) error {
	c, ok := r.Forge.(Commenter)
	if !ok {
		return fmt.Errorf("commenting on #%d: %w", n, ErrNoComments)
	}
	_, err := do(ctx, r, func() (struct{}, error) { return struct{}{}, c.Comment(ctx, n, body) })
	return err
}

var _ Commenter = (*Retrying)(nil)

// ErrNoComments means the forge behind a decorator cannot comment.
var ErrNoComments = errors.New("this forge cannot comment on pull requests")
