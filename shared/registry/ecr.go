package registry

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-gitops/conveyor/shared/event"
)

// ecrEvent is an "ECR Image Action" event as EventBridge delivers it to SQS.
type ecrEvent struct {
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Region     string    `json:"region"`
	Time       time.Time `json:"time"`
	Detail     struct {
		Result     string `json:"result"`
		Repository string `json:"repository-name"`
		Digest     string `json:"image-digest"`
		ActionType string `json:"action-type"`
		Tag        string `json:"image-tag"`
	} `json:"detail"`
}

// Decode reads a message of the images queue: a Conveyor envelope, or an
// ECR event straight from EventBridge, which it wraps in an envelope. An
// ECR event that is not a successful push becomes an image event with an
// empty action, which the handler ignores.
func Decode(body []byte) (*event.Envelope, error) {
	var probe struct {
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(body, &probe); err != nil || probe.DetailType == "" {
		return event.Decode(body)
	}
	var e ecrEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: ECR event: %v", event.ErrMalformed, err)
	}
	if e.Source != "aws.ecr" || e.DetailType != "ECR Image Action" {
		return nil, fmt.Errorf("%w: EventBridge event %q from %q is not an ECR image action", event.ErrMalformed, e.DetailType, e.Source)
	}
	img := event.Image{
		Registry:   fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com", e.Account, e.Region),
		Repository: e.Detail.Repository,
		Digest:     e.Detail.Digest,
		Tag:        e.Detail.Tag,
	}
	// ECR events are best-effort and include failures: only a successful
	// push is an image to promote.
	if strings.EqualFold(e.Detail.ActionType, "PUSH") && strings.EqualFold(e.Detail.Result, "SUCCESS") {
		img.Action = "push"
	}
	env, err := event.New(event.KindImage, "ecr", "ecr:"+e.ID, "", img, e.Time)
	if err != nil {
		return nil, err
	}
	return env, nil
}
