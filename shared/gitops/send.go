package gitops

import (
	"context"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"
)

// overlay reads objects from a base store and keeps every object written
// through it apart, so that what an edit created is known exactly: a push
// sends those objects and nothing else, without walking the base tree to
// find out what the remote lacks (go-git's push walks every tree of the
// remote's tips, which grows with the repository).
type overlay struct {
	storer.EncodedObjectStorer
	added *memory.ObjectStorage
	order []plumbing.Hash
}

func newOverlay(base storer.EncodedObjectStorer) *overlay {
	return &overlay{EncodedObjectStorer: base, added: &memory.NewStorage().ObjectStorage}
}

func (o *overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if _, err := o.added.EncodedObject(plumbing.AnyObject, h); err != nil {
		o.order = append(o.order, h)
	}
	return o.added.SetEncodedObject(obj)
}

func (o *overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, err := o.added.EncodedObject(t, h); err == nil {
		return obj, nil
	}
	return o.EncodedObjectStorer.EncodedObject(t, h)
}

func (o *overlay) HasEncodedObject(h plumbing.Hash) error {
	if o.added.HasEncodedObject(h) == nil {
		return nil
	}
	return o.EncodedObjectStorer.HasEncodedObject(h)
}

func (o *overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if n, err := o.added.EncodedObjectSize(h); err == nil {
		return n, nil
	}
	return o.EncodedObjectStorer.EncodedObjectSize(h)
}

// send updates branch on the remote from old (zero: the branch is new) to
// commit, sending exactly the objects written to added. The remote's
// receive-pack applies the update only if the branch is still at old, so a
// concurrent writer makes it fail rather than be overwritten silently.
func (r *Repo) send(ctx context.Context, added *overlay, branch string, old, commit plumbing.Hash) error {
	u, err := r.endpoint()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	dst := plumbing.NewBranchReferenceName(branch)
	if dir, ok := localDir(u); ok {
		if gitDir := directGitDir(dir, branch); gitDir != "" {
			err = sendLocal(ctx, gitDir, added, dst, old, commit)
			if err != nil {
				return fmt.Errorf("pushing %s to %s of %s: %w", short(commit.String()), branch, r.where(), err)
			}
			return nil
		}
	}
	if err := r.sendPack(ctx, u, added, &packp.Command{Name: dst, Old: old, New: commit}); err != nil {
		return fmt.Errorf("pushing %s to %s of %s: %w", short(commit.String()), branch, r.where(), classify(err))
	}
	return nil
}

func (r *Repo) sendPack(ctx context.Context, u string, added *overlay, cmd *packp.Command) (err error) {
	ep, err := transport.NewEndpoint(u)
	if err != nil {
		return err
	}
	c, err := client.NewClient(ep)
	if err != nil {
		return err
	}
	sess, err := c.NewReceivePackSession(ep, r.Auth)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := sess.Close(); err == nil {
			err = cerr
		}
	}()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return err
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{cmd}
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		// Reference deltas only when the server cannot take offsets.
		e := packfile.NewEncoder(wr, added.added, !adv.Capabilities.Supports(capability.OFSDelta))
		_, err := e.Encode(added.order, 0)
		done <- wr.CloseWithError(err)
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		_ = rd.Close()
		<-done
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	if rs != nil {
		return rs.Error()
	}
	return nil
}
