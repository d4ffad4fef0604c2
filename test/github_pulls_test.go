package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// withPull resolves {n} to a pull request of an existing repository and
// runs h with the server locked.
func (s *githubServer) withPull(h func(w http.ResponseWriter, r *http.Request, full string, p *ghPull)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		full := fullName(r)
		n, err := strconv.Atoi(r.PathValue("n"))
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.find(full, n)
		if err != nil || p == nil {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		h(w, r, full, p)
	}
}

func (s *githubServer) listPulls(w http.ResponseWriter, r *http.Request) {
	full, q := fullName(r), r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, p := range s.pulls[full] {
		owner, _, _ := strings.Cut(full, "/")
		switch {
		case state != "all" && p.State != state:
		case q.Get("head") != "" && q.Get("head") != owner+":"+p.Head:
		case q.Get("base") != "" && q.Get("base") != p.Base:
		default:
			out = append(out, s.pullJSON(full, p))
		}
	}
	ghJSON(w, http.StatusOK, out)
}

func (s *githubServer) createPull(w http.ResponseWriter, r *http.Request) {
	full := fullName(r)
	var in struct{ Title, Head, Base, Body string }
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	owner, _, _ := strings.Cut(full, "/")
	in.Head = strings.TrimPrefix(in.Head, owner+":")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.revParse(full, in.Head) == "":
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "PullRequest", "field": "head", "code": "invalid"})
		return
	case s.revParse(full, in.Base) == "":
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"})
		return
	}
	for _, p := range s.pulls[full] {
		if p.State == "open" && p.Head == in.Head {
			ghError(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"resource": "PullRequest", "code": "custom",
				"message": "A pull request already exists for " + owner + ":" + in.Head + "."})
			return
		}
	}
	now := time.Now().UTC()
	number := 1
	for _, q := range s.pulls[full] {
		number = max(number, q.Number+1)
	}
	p := &ghPull{Number: number, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base,
		User: loginOf(r), State: "open", CreatedAt: now, UpdatedAt: now}
	s.pulls[full] = append(s.pulls[full], p)
	ghJSON(w, http.StatusCreated, s.pullJSON(full, p))
	s.hook(full, "pull_request", s.pullEvent("opened", full, p, p.User))
}

func (s *githubServer) getPull(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	ghJSON(w, http.StatusOK, s.pullJSON(full, p))
}

func (s *githubServer) editPull(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct{ Title, Body, State *string }
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	p.UpdatedAt = time.Now().UTC()
	closing := in.State != nil && *in.State == "closed" && p.State == "open"
	if closing {
		p.HeadSHA = s.revParse(full, p.Head)
		p.State, p.ClosedAt = "closed", p.UpdatedAt
	}
	ghJSON(w, http.StatusOK, s.pullJSON(full, p))
	if closing {
		s.hook(full, "pull_request", s.pullEvent("closed", full, p, loginOf(r)))
	}
}

// mergePull merges the head branch into the base in the served repository:
// a merge commit (merge), or one commit on the base (squash, rebase).
func (s *githubServer) mergePull(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct {
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	head := s.revParse(full, p.Head)
	switch {
	case p.State != "open":
		ghError(w, http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return
	case in.SHA != "" && in.SHA != head:
		ghError(w, http.StatusConflict, "Head branch was modified. Review and try the merge again.")
		return
	case !slices.Contains([]string{"", "merge", "squash", "rebase"}, in.MergeMethod):
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	login := loginOf(r)
	mc, err := s.mergeBranch(full, p, head, in.MergeMethod, in.CommitMessage, login)
	if err != nil {
		ghError(w, http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return
	}
	now := time.Now().UTC()
	p.State, p.Merged, p.MergeCommit, p.MergedBy, p.HeadSHA = "closed", true, mc, login, head
	p.MergedAt, p.ClosedAt, p.UpdatedAt = now, now, now
	ghJSON(w, http.StatusOK, map[string]any{"sha": mc, "merged": true, "message": "Pull Request successfully merged"})
	s.hook(full, "pull_request", s.pullEvent("closed", full, p, login))
}

func (s *githubServer) mergeBranch(full string, p *ghPull, head, method, message, login string) (string, error) {
	dir := s.repoDir(full)
	base := s.revParse(full, p.Base)
	tree, err := gitCLI(dir, nil, "merge-tree", "--write-tree", base, head)
	if err != nil {
		return "", err // exit status 1: conflicts
	}
	owner, _, _ := strings.Cut(full, "/")
	msg := fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", p.Number, owner, p.Head, p.Title)
	args := []string{"commit-tree", strings.Fields(tree)[0], "-p", base}
	if method == "squash" || method == "rebase" {
		msg = fmt.Sprintf("%s (#%d)", p.Title, p.Number)
	} else {
		args = append(args, "-p", head)
	}
	if message != "" {
		msg += "\n\n" + message
	}
	args = append(args, "-m", msg)
	env := []string{"GIT_AUTHOR_NAME=" + login, "GIT_AUTHOR_EMAIL=" + login + "@users.noreply.github.test",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.test"}
	commit, err := gitCLI(dir, env, args...)
	if err != nil {
		return "", err
	}
	// Compare-and-swap: a push to the base meanwhile refuses the merge.
	if _, err := gitCLI(dir, nil, "update-ref", "refs/heads/"+p.Base, commit, base); err != nil {
		return "", err
	}
	return commit, nil
}

func (s *githubServer) listReviews(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	out := []map[string]any{}
	for _, rv := range p.Reviews {
		out = append(out, reviewJSON(rv, rv.State))
	}
	ghJSON(w, http.StatusOK, out)
}

// createReview submits a review as the token's user (a pending review,
// with no event, is not submitted and sends nothing).
func (s *githubServer) createReview(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct {
		CommitID string `json:"commit_id"`
		Event    string `json:"event"`
	}
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	states := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING"}
	state, ok := states[in.Event]
	login := loginOf(r)
	switch {
	case !ok:
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	case state == "APPROVED" && login == p.User:
		ghError(w, http.StatusUnprocessableEntity, "Unprocessable Entity", map[string]any{"message": "Can not approve your own pull request"})
		return
	}
	if in.CommitID == "" {
		in.CommitID = s.revParse(full, p.Head)
	}
	rv := ghReview{ID: int64(len(p.Reviews) + 1), User: login, State: state, CommitID: in.CommitID, At: time.Now().UTC()}
	if state != "PENDING" {
		p.Reviews = append(p.Reviews, rv)
	}
	ghJSON(w, http.StatusOK, reviewJSON(rv, state))
	if state != "PENDING" {
		ev := s.pullEvent("submitted", full, p, login)
		ev["review"] = reviewJSON(rv, strings.ToLower(state)) // webhooks say "approved"
		s.hook(full, "pull_request_review", ev)
	}
}

func (s *githubServer) requestReviewers(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if slices.Contains(in.Reviewers, p.User) {
		ghError(w, http.StatusUnprocessableEntity, "Review cannot be requested from pull request author.")
		return
	}
	for _, u := range append(in.Reviewers, in.TeamReviewers...) {
		if !slices.Contains(p.RequestedReviewers, u) {
			p.RequestedReviewers = append(p.RequestedReviewers, u)
		}
	}
	ghJSON(w, http.StatusCreated, s.pullJSON(full, p))
}

// readLabels reads a labels body: a JSON array, or {"labels": [...]}.
func readLabels(r *http.Request) ([]string, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var list []string
	if json.Unmarshal(b, &list) == nil {
		return list, nil
	}
	var obj struct{ Labels []string }
	err = json.Unmarshal(b, &obj)
	return obj.Labels, err
}

func (s *githubServer) addLabels(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	add, err := readLabels(r)
	if err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	for _, l := range add {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	ghJSON(w, http.StatusOK, labelsJSON(p.Labels))
}

func (s *githubServer) setLabels(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	set, err := readLabels(r)
	if err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	p.Labels = slices.Compact(slices.Clone(set))
	ghJSON(w, http.StatusOK, labelsJSON(p.Labels))
}

func (s *githubServer) comment(w http.ResponseWriter, r *http.Request, full string, p *ghPull) {
	var in struct{ Body string }
	if err := decodeBody(r, &in); err != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	p.Comments = append(p.Comments, in.Body)
	ghJSON(w, http.StatusCreated, map[string]any{"id": len(p.Comments), "body": in.Body, "user": userJSON(loginOf(r))})
}

func (s *githubServer) createStatus(w http.ResponseWriter, r *http.Request) {
	var in struct{ State, Context string }
	if err := decodeBody(r, &in); err != nil || !slices.Contains([]string{"error", "failure", "pending", "success"}, in.State) {
		ghError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := r.PathValue("sha")
	s.statuses[sha] = append(s.statuses[sha], ghStatus{State: in.State, Context: in.Context})
	ghJSON(w, http.StatusCreated, map[string]any{"state": in.State, "context": in.Context})
}

// combinedStatus combines each context's latest status: failure if any
// failed, pending if any is pending (or none exists), success otherwise.
func (s *githubServer) combinedStatus(w http.ResponseWriter, r *http.Request) {
	full := fullName(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := s.revParse(full, r.PathValue("ref"))
	latest := map[string]string{}
	var contexts []string
	for _, st := range s.statuses[sha] {
		if _, ok := latest[st.Context]; !ok {
			contexts = append(contexts, st.Context)
		}
		latest[st.Context] = st.State
	}
	state := "success"
	list := []map[string]any{}
	for _, c := range contexts {
		list = append(list, map[string]any{"state": latest[c], "context": c})
		switch latest[c] {
		case "failure", "error":
			state = "failure"
		case "pending":
			if state == "success" {
				state = "pending"
			}
		}
	}
	if len(contexts) == 0 {
		state = "pending"
	}
	ghJSON(w, http.StatusOK, map[string]any{"state": state, "sha": sha, "total_count": len(contexts), "statuses": list})
}

func (s *githubServer) checkRuns(w http.ResponseWriter, r *http.Request) {
	ghJSON(w, http.StatusOK, map[string]any{"total_count": 0, "check_runs": []any{}})
}

// compare answers base...head from the repository's commit graph.
func (s *githubServer) compare(w http.ResponseWriter, r *http.Request) {
	full := fullName(r)
	base, head, ok := strings.Cut(r.PathValue("basehead"), "...")
	b, h := s.revParse(full, base), s.revParse(full, head)
	if !ok || b == "" || h == "" {
		ghError(w, http.StatusNotFound, "Not Found")
		return
	}
	ancestor := func(a, d string) bool {
		_, err := gitCLI(s.repoDir(full), nil, "merge-base", "--is-ancestor", a, d)
		return err == nil
	}
	status := "diverged"
	switch {
	case b == h:
		status = "identical"
	case ancestor(b, h):
		status = "ahead"
	case ancestor(h, b):
		status = "behind"
	}
	ghJSON(w, http.StatusOK, map[string]any{"status": status, "base_commit": map[string]any{"sha": b}})
}

func userJSON(login string) map[string]any {
	return map[string]any{"login": login, "type": "User"}
}

func labelsJSON(ls []string) []map[string]any {
	out := []map[string]any{}
	for _, l := range ls {
		out = append(out, map[string]any{"name": l})
	}
	return out
}

func reviewJSON(rv ghReview, state string) map[string]any {
	return map[string]any{"id": rv.ID, "user": userJSON(rv.User), "state": state, "commit_id": rv.CommitID,
		"submitted_at": rv.At.Format(time.RFC3339)}
}

func (s *githubServer) repoJSON(full string) map[string]any {
	_, name, _ := strings.Cut(full, "/")
	return map[string]any{"name": name, "full_name": full, "clone_url": s.cloneURL(full), "html_url": s.URL + "/" + full,
		"default_branch": "main"}
}

func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC3339)
}

// pullJSON renders a pull request as the REST API does. An open one's head
// is its branch's commit now, and GitHub's mergeability is whether the head
// merges into the base without conflicts.
func (s *githubServer) pullJSON(full string, p *ghPull) map[string]any {
	owner, _, _ := strings.Cut(full, "/")
	head, mergeable := p.HeadSHA, any(nil)
	if p.State == "open" {
		head = s.revParse(full, p.Head)
		_, err := gitCLI(s.repoDir(full), nil, "merge-tree", "--write-tree", s.revParse(full, p.Base), head)
		mergeable = err == nil
	}
	out := map[string]any{
		"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body, "user": userJSON(p.User),
		"html_url": fmt.Sprintf("%s/%s/pull/%d", s.URL, full, p.Number),
		"labels":   labelsJSON(p.Labels),
		"head":     map[string]any{"ref": p.Head, "sha": head, "label": owner + ":" + p.Head, "repo": s.repoJSON(full)},
		"base":     map[string]any{"ref": p.Base, "sha": s.revParse(full, p.Base), "label": owner + ":" + p.Base, "repo": s.repoJSON(full)},
		"merged":   p.Merged, "mergeable": mergeable, "merge_commit_sha": nil, "merged_by": nil,
		"created_at": timeJSON(p.CreatedAt), "updated_at": timeJSON(p.UpdatedAt), "closed_at": timeJSON(p.ClosedAt), "merged_at": timeJSON(p.MergedAt),
	}
	var reviewers []map[string]any
	for _, u := range p.RequestedReviewers {
		reviewers = append(reviewers, userJSON(u))
	}
	out["requested_reviewers"] = reviewers
	if p.Merged {
		out["merge_commit_sha"], out["merged_by"] = p.MergeCommit, userJSON(p.MergedBy)
	}
	return out
}

func (s *githubServer) pullEvent(action, full string, p *ghPull, sender string) map[string]any {
	return map[string]any{"action": action, "number": p.Number, "pull_request": s.pullJSON(full, p),
		"repository": s.repoJSON(full), "sender": userJSON(sender)}
}
