package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/conveyor-gitops/conveyor/shared/event"
)

// ImageEvent is one manifest push found in a registry webhook.
type ImageEvent struct {
	// Key identifies the event for deduplication across redeliveries.
	Key   string
	Image event.Image
}

// manifestTypes are the media types whose push means "a new image".
var manifestTypes = map[string]bool{
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.docker.distribution.manifest.v1+prettyjws": true,
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
}

// IsManifest reports whether mediaType is an image manifest or index.
func IsManifest(mediaType string) bool { return manifestTypes[mediaType] }

type distributionEnvelope struct {
	Events []struct {
		ID     string `json:"id"`
		Action string `json:"action"`
		Target struct {
			MediaType  string `json:"mediaType"`
			Digest     string `json:"digest"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

// ParseDistribution reads a CNCF distribution notification envelope (v1 or
// v2 media type). It returns the manifest pushes and how many events it
// ignored (blob pushes, pulls, deletes, mounts).
func ParseDistribution(body []byte) ([]ImageEvent, int, error) {
	var env distributionEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, 0, fmt.Errorf("%w: distribution notification: %v", ErrMalformed, err)
	}
	if env.Events == nil {
		return nil, 0, fmt.Errorf(`%w: distribution notification has no "events" list`, ErrMalformed)
	}
	var out []ImageEvent
	ignored := 0
	for i, e := range env.Events {
		if e.Action != "push" || !IsManifest(e.Target.MediaType) {
			ignored++
			continue
		}
		if e.ID == "" || e.Target.Repository == "" || !strings.HasPrefix(e.Target.Digest, "sha256:") {
			return nil, 0, fmt.Errorf("%w: distribution event %d needs id, target.repository and a sha256 target.digest", ErrMalformed, i)
		}
		out = append(out, ImageEvent{
			Key: "distribution:" + e.ID,
			Image: event.Image{Registry: e.Request.Host, Repository: e.Target.Repository, Digest: e.Target.Digest,
				Tag: e.Target.Tag, MediaType: e.Target.MediaType, Action: "push"},
		})
	}
	return out, ignored, nil
}

// harborData is what both of Harbor's payload formats say about an
// artifact: under "event_data" in the default format, under "data" in the
// CloudEvents one.
type harborData struct {
	Resources []struct {
		Digest      string `json:"digest"`
		Tag         string `json:"tag"`
		ResourceURL string `json:"resource_url"`
	} `json:"resources"`
	Repository struct {
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

// harborEvent holds both formats' fields: Type and OccurAt and EventData
// are the default format's, SpecVersion, ID, Time and Data the
// CloudEvents format's (whose Type is "harbor.artifact.pushed").
type harborEvent struct {
	Type        string      `json:"type"`
	OccurAt     int64       `json:"occur_at"`
	EventData   *harborData `json:"event_data"`
	SpecVersion string      `json:"specversion"`
	ID          string      `json:"id"`
	Time        string      `json:"time"`
	Data        *harborData `json:"data"`
}

// Harbor's push event types, in its default and its CloudEvents format.
const (
	harborPush           = "PUSH_ARTIFACT"
	harborCloudEventPush = "harbor.artifact.pushed"
)

// ParseHarbor reads a Harbor webhook in either payload format a Harbor
// policy can choose, Default or CloudEvents. Only an artifact push is an
// image event.
func ParseHarbor(body []byte) ([]ImageEvent, int, error) {
	var e harborEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, 0, fmt.Errorf("%w: harbor webhook: %v", ErrMalformed, err)
	}
	if e.Type == "" {
		return nil, 0, fmt.Errorf(`%w: harbor webhook has no "type"`, ErrMalformed)
	}
	data, field, push := e.EventData, "event_data", e.Type == harborPush
	// Harbor sends no event id in its default format: the event's own
	// facts identify it. A CloudEvent's id is unique per event.
	identity := fmt.Sprint(e.OccurAt)
	if e.SpecVersion != "" {
		data, field, push = e.Data, "data", e.Type == harborCloudEventPush
		identity = "ce|" + e.ID + "|" + e.Time
	}
	if !push {
		return nil, 1, nil
	}
	if data == nil || data.Repository.RepoFullName == "" {
		return nil, 0, fmt.Errorf("%w: harbor %s needs %s.repository.repo_full_name", ErrMalformed, e.Type, field)
	}
	return harborImages(data, identity)
}

func harborImages(data *harborData, identity string) ([]ImageEvent, int, error) {
	var out []ImageEvent
	for i, r := range data.Resources {
		if !strings.HasPrefix(r.Digest, "sha256:") {
			return nil, 0, fmt.Errorf("%w: harbor resource %d has no sha256 digest", ErrMalformed, i)
		}
		tag := r.Tag
		if strings.HasPrefix(tag, "sha256:") {
			// After a push by digest Harbor puts the digest in the tag.
			tag = ""
		}
		host, _, _ := strings.Cut(r.ResourceURL, "/")
		img := event.Image{Registry: host, Repository: data.Repository.RepoFullName, Digest: r.Digest, Tag: tag, Action: "push"}
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%s", identity, img.Repository, img.Digest, tag)))
		out = append(out, ImageEvent{Key: "harbor:" + hex.EncodeToString(sum[:16]), Image: img})
	}
	return out, 0, nil
}
