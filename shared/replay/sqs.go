package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/conveyor-gitops/conveyor/shared/queue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqlitequeue"
	"github.com/conveyor-gitops/conveyor/shared/queue/sqsqueue"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

// SQSQueues is one work queue and its dead-letter queue. Build DeadLetter
// with sqsqueue.WithReasons to see the reasons of messages SQS moved itself
// (after maxReceiveCount), which carry no dead_reason attribute.
type SQSQueues struct {
	Source     *sqsqueue.Queue
	DeadLetter *sqsqueue.Queue
}

// SQS is the Dead of SQS queues. List receives every dead letter with a
// short visibility timeout and Redrive sends a copy to the work queue, then
// deletes the dead letter; Release makes the messages not moved visible
// again. With WithMoveTasks, a whole-queue redrive is one
// StartMessageMoveTask.
type SQS struct {
	queues     map[string]SQSQueues
	order      []string
	visibility time.Duration
	max        int
	tasks      moveTasks
	records    state.DeadLetters
}

var (
	_ Dead     = (*SQS)(nil)
	_ Releaser = (*SQS)(nil)
	_ Mover    = (*SQS)(nil)
)

// moveTasks is the part of *sqs.Client that MoveAll uses.
type moveTasks interface {
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, params *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
}

var _ moveTasks = (*sqs.Client)(nil)

// SQSOption configures an SQS.
type SQSOption func(*SQS)

// WithVisibility is how long List hides the dead letters it returns
// (default 60 s); Redrive extends it before moving each message.
func WithVisibility(d time.Duration) SQSOption { return func(s *SQS) { s.visibility = d } }

// WithMaxMessages caps how many dead letters one List receives per queue
// (default 1000).
func WithMaxMessages(n int) SQSOption { return func(s *SQS) { s.max = n } }

// WithMoveTasks lets a redrive of a whole queue, unfiltered and
// unlimited, run as one server-side StartMessageMoveTask; client is an
// *sqs.Client. Messages moved that way keep their body as it is: their
// envelope's Replayed counter is not bumped.
func WithMoveTasks(client moveTasks) SQSOption { return func(s *SQS) { s.tasks = client } }

// WithRecords forgets the dead-letter record (see Recorded) of each
// message Redrive moves, and of each a MoveAll task moves.
func WithRecords(records state.DeadLetters) SQSOption { return func(s *SQS) { s.records = records } }

// NewSQS returns the Dead of the given queues.
func NewSQS(queues []SQSQueues, opts ...SQSOption) (*SQS, error) {
	s := &SQS{queues: map[string]SQSQueues{}, visibility: time.Minute, max: 1000}
	for _, o := range opts {
		o(s)
	}
	if s.visibility < time.Second || s.visibility > sqsqueue.MaxVisibility || s.max < 1 {
		return nil, fmt.Errorf("configuring SQS replay: visibility %v must be within 1 s–%v and max messages %d positive", s.visibility, sqsqueue.MaxVisibility, s.max)
	}
	for _, q := range queues {
		if q.Source == nil || q.DeadLetter == nil {
			return nil, errors.New("configuring SQS replay: a queue pair lacks its source or dead-letter queue")
		}
		s.queues[q.Source.Name()] = q
		s.order = append(s.order, q.Source.Name())
	}
	return s, nil
}

func (s *SQS) pairs(name string) ([]SQSQueues, error) {
	if name == "" {
		out := make([]SQSQueues, 0, len(s.order))
		for _, n := range s.order {
			out = append(out, s.queues[n])
		}
		return out, nil
	}
	q, ok := s.queues[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", queue.ErrUnknownQueue, name)
	}
	return []SQSQueues{q}, nil
}

// List receives the dead letters of work queue name ("" for all) and keeps
// them hidden for the visibility timeout: pass what is not redriven to
// Release. Two empty receives in a row end a queue, as a short poll samples
// only some SQS servers. On a FIFO dead-letter queue one receive returns
// messages of a group only while none of the group is hidden, so a group
// with more than 10 dead letters is listed in part.
func (s *SQS) List(ctx context.Context, name string) ([]Record, error) {
	pairs, err := s.pairs(name)
	if err != nil {
		return nil, fmt.Errorf("listing dead letters: %w", err)
	}
	var out []Record
	for _, p := range pairs {
		got, empty := 0, 0
		for got < s.max && empty < 2 {
			msgs, err := p.DeadLetter.Receive(ctx, min(10, s.max-got), s.visibility)
			if err != nil {
				_ = s.Release(context.WithoutCancel(ctx), out)
				return nil, fmt.Errorf("listing dead letters: %w", err)
			}
			if len(msgs) == 0 {
				empty++
				continue
			}
			empty = 0
			got += len(msgs)
			for _, m := range msgs {
				out = append(out, s.record(p, m))
			}
		}
	}
	return out, nil
}

func (s *SQS) record(p SQSQueues, m queue.Message) Record {
	source := m.Attributes[queue.AttrSourceQueue]
	if source == "" {
		source = p.Source.Name()
	}
	r := newRecord(m.ID, source, m.Body, m.Attributes)
	r.Reason, r.ReceiveCount, r.SentAt, r.DeadAt = m.LastError, m.ReceiveCount, m.SentAt, m.SentAt
	r.handle, r.group, r.dedupe = m.ReceiptHandle, m.GroupID, m.DedupeID
	return r
}

// Redrive sends r to its work queue, with its envelope's Replayed counter
// bumped and attributes replayed and replayed_from_error set, then deletes
// it from the dead-letter queue. A dead letter whose receipt no longer owns
// it (received again elsewhere, or deleted) is ErrNotDead. On FIFO queues
// the copy is deduplicated by the dead letter's SQS id, so a retry after a
// crash between send and delete sends no second copy within five minutes.
func (s *SQS) Redrive(ctx context.Context, r Record) error {
	p, ok := s.queues[r.Queue]
	if !ok {
		return fmt.Errorf("redriving %s: %w: %q", r.ID, queue.ErrUnknownQueue, r.Queue)
	}
	if r.handle == "" {
		return fmt.Errorf("redriving %s: the record was not listed by this SQS replay", r.ID)
	}
	// Extending the hold first makes sure the receipt still owns the
	// message: moving one that someone else received would duplicate it.
	if err := p.DeadLetter.ChangeVisibility(ctx, r.handle, s.visibility); err != nil {
		if errors.Is(err, queue.ErrStaleReceipt) {
			return fmt.Errorf("redriving %s: %w: %w", r.ID, ErrNotDead, err)
		}
		return fmt.Errorf("redriving %s: %w", r.ID, err)
	}
	body, err := Bump(r.Body)
	if err != nil {
		return fmt.Errorf("redriving %s: %w", r.ID, err)
	}
	attrs := make(map[string]string, len(r.Attributes)+2)
	for k, v := range r.Attributes {
		if k != queue.AttrDeadReason && k != queue.AttrSourceQueue {
			attrs[k] = v
		}
	}
	n, _ := strconv.Atoi(attrs[sqlitequeue.AttrReplayed])
	attrs[sqlitequeue.AttrReplayed] = strconv.Itoa(n + 1)
	attrs[sqlitequeue.AttrReplayedFromError] = truncate(r.Reason, 1024)
	in := queue.SendInput{Body: body, GroupID: r.group, DedupeID: r.dedupe, Attributes: attrs}
	if p.Source.FIFO() {
		dlqID, _, _ := strings.Cut(r.handle, "#")
		in.DedupeID = "replay-" + dlqID
	}
	if _, err := p.Source.Send(ctx, in); err != nil {
		return fmt.Errorf("redriving %s: %w", r.ID, err)
	}
	if err := p.DeadLetter.Delete(ctx, r.handle); err != nil {
		return fmt.Errorf("redriving %s: sent, but the dead letter stays: %w", r.ID, err)
	}
	if s.records != nil {
		if err := s.records.DeleteDeadLetter(ctx, r.Queue, r.ID); err != nil {
			return fmt.Errorf("redriving %s: moved, but its record stays listed: %w", r.ID, err)
		}
	}
	return nil
}

// Release makes listed dead letters visible again at once.
func (s *SQS) Release(ctx context.Context, rs []Record) error {
	var errs []error
	for _, r := range rs {
		p, ok := s.queues[r.Queue]
		if !ok || r.handle == "" {
			continue
		}
		if err := p.DeadLetter.ChangeVisibility(ctx, r.handle, 0); err != nil && !errors.Is(err, queue.ErrStaleReceipt) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MoveAll starts a StartMessageMoveTask from work queue name's dead-letter
// queue to the work queue, at rate messages per second (0 lets SQS choose;
// at most 500). Without WithMoveTasks it returns ErrNoMoveTask.
func (s *SQS) MoveAll(ctx context.Context, name string, rate float64) (int, string, error) {
	if s.tasks == nil {
		return 0, "", ErrNoMoveTask
	}
	p, ok := s.queues[name]
	if !ok {
		return 0, "", fmt.Errorf("moving dead letters: %w: %q", queue.ErrUnknownQueue, name)
	}
	dlq, err := s.tasks.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.DeadLetter.URL()),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, "", fmt.Errorf("reading the attributes of %s: %w", p.DeadLetter.Name(), err)
	}
	src, err := s.tasks.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.Source.URL()),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return 0, "", fmt.Errorf("reading the attributes of %s: %w", p.Source.Name(), err)
	}
	in := &sqs.StartMessageMoveTaskInput{
		SourceArn: aws.String(dlq.Attributes[string(types.QueueAttributeNameQueueArn)]),
		// Explicit, because messages the adapter dead-lettered were sent
		// to the dead-letter queue and have no SQS source to return to.
		DestinationArn: aws.String(src.Attributes[string(types.QueueAttributeNameQueueArn)]),
	}
	if rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(min(500, max(1, math.Round(rate)))))
	}
	started := time.Now()
	out, err := s.tasks.StartMessageMoveTask(ctx, in)
	if err != nil {
		return 0, "", fmt.Errorf("starting a message move task on %s: %w", p.DeadLetter.Name(), err)
	}
	n, _ := strconv.Atoi(dlq.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	task := aws.ToString(out.TaskHandle)
	if err := s.forgetBefore(ctx, name, started); err != nil {
		return n, task, fmt.Errorf("moving %s's dead letters (task %s): %w", name, task, err)
	}
	return n, task, nil
}

// forgetBefore forgets the records of work queue name's dead letters
// dead-lettered before t: those a move task started at t moves. Later ones
// stay listed, as they may have missed the task.
func (s *SQS) forgetBefore(ctx context.Context, name string, t time.Time) error {
	if s.records == nil {
		return nil
	}
	ds, err := s.records.ListDeadLetters(ctx, name)
	if err != nil {
		return fmt.Errorf("forgetting dead-letter records: %w", err)
	}
	for _, d := range ds {
		if d.DeadAt.After(t) {
			continue
		}
		if err := s.records.DeleteDeadLetter(ctx, d.Queue, d.ID); err != nil {
			return fmt.Errorf("forgetting dead-letter records: %w", err)
		}
	}
	return nil
}

// truncate keeps at most n bytes of s, never splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
