package dynamostate

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/conveyor-gitops/conveyor/shared/state"
)

const (
	releasePrefix = "release#"
	releaseSK     = "release"
	attrVersion   = "version"
	attrApp       = "app"
	attrEnv       = "env"
	attrState     = "state"
	attrCreated   = "created_at"
	attrPR        = "pr"
)

func releaseKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: attrS(releasePrefix + id), AttrSK: attrS(releaseSK)}
}

// PutRelease implements state.Releases: a create (Version 0) is a put on
// condition that no release has the id, an update one on condition that
// the stored version is r.Version. A lost condition is state.ErrConflict.
// On success r gets its timestamps and the incremented version.
func (s *Store) PutRelease(ctx context.Context, r *state.Release) error {
	if r.ID == "" || r.App == "" || r.Env == "" || r.Digest == "" {
		return fmt.Errorf("putting release: id, app, env and digest are required")
	}
	next := *r
	now := s.now().UTC()
	if next.CreatedAt.IsZero() {
		next.CreatedAt = now
	}
	next.UpdatedAt = now
	next.Version = r.Version + 1
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: releaseItem(next)}
	if r.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": attrN(int64(r.Version))}
	}
	if _, err := s.api.PutItem(ctx, in); err != nil {
		if _, lost := isConditionFailed(err); lost {
			return fmt.Errorf("putting release %s (version %d): %w", r.ID, r.Version, state.ErrConflict)
		}
		return fmt.Errorf("putting release %s: %w", r.ID, err)
	}
	*r = next
	return nil
}

// GetRelease implements state.Releases with a consistent read.
func (s *Store) GetRelease(ctx context.Context, id string) (state.Release, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: releaseKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return state.Release{}, fmt.Errorf("reading release %s: %w", id, err)
	}
	if out.Item == nil {
		return state.Release{}, fmt.Errorf("release %s: %w", id, state.ErrNotFound)
	}
	return decodeRelease(out.Item), nil
}

// ListReleases implements state.Releases: a query of index gsi2 when f
// names a pull request, narrowed here by the other fields (a pull request
// has a few releases); otherwise, or when gsi2 has no release of the pull
// request (all written before the index), a query of index gsi1 when f
// names an app (narrowed to f.Env by key), a scan otherwise, with the
// state and pull request filtered by DynamoDB. Results are sorted oldest
// first (then by id).
func (s *Store) ListReleases(ctx context.Context, f state.ReleaseFilter) ([]state.Release, error) {
	if f.PR > 0 {
		rels, indexed, err := s.ListPullRequest(ctx, f)
		if err != nil || indexed {
			return rels, err
		}
	}
	items, err := s.read(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("listing releases: %w", err)
	}
	return matching(items, f), nil
}

// ListPullRequest lists the releases of pull request f.PR that match f
// from index gsi2 alone, with one query and never a scan, so a role that
// may not scan can call it. indexed is false when gsi2 holds no release of
// the pull request: there is none, or it was written before the index.
func (s *Store) ListPullRequest(ctx context.Context, f state.ReleaseFilter) (rels []state.Release, indexed bool, err error) {
	items, err := s.queryPR(ctx, f.PR)
	if err != nil {
		return nil, false, fmt.Errorf("listing releases: %w", err)
	}
	// gsi2 is read whole, unfiltered, so that an empty answer means the
	// index does not know the pull request.
	return matching(items, f), len(items) > 0, nil
}

// matching decodes items and keeps those f matches, oldest first (by
// update with f.ByUpdate), the newest f.Newest when set.
func matching(items []map[string]types.AttributeValue, f state.ReleaseFilter) []state.Release {
	out := make([]state.Release, 0, len(items))
	for _, it := range items {
		r := decodeRelease(it)
		// Times are stored as RFC 3339 text, which does not sort as
		// times do: compared here, not in a filter expression.
		if !f.UpdatedSince.IsZero() && r.UpdatedAt.Before(f.UpdatedSince) {
			continue
		}
		if f.PR > 0 && r.PR != f.PR || f.App != "" && r.App != f.App || f.Env != "" && r.Env != f.Env || f.State != "" && r.State != f.State {
			continue
		}
		out = append(out, r)
	}
	at := func(r state.Release) time.Time { return r.CreatedAt }
	if f.ByUpdate {
		at = func(r state.Release) time.Time { return r.UpdatedAt }
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !at(out[i]).Equal(at(out[j])) {
			return at(out[i]).Before(at(out[j]))
		}
		return out[i].ID < out[j].ID
	})
	if f.Newest > 0 && len(out) > f.Newest {
		out = out[len(out)-f.Newest:]
	}
	return out
}

// read lists the releases matching f through gsi1 when f names an app,
// with a scan otherwise.
func (s *Store) read(ctx context.Context, f state.ReleaseFilter) ([]map[string]types.AttributeValue, error) {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var filters []string
	if f.State != "" {
		names["#state"], values[":state"] = attrState, attrS(string(f.State))
		filters = append(filters, "#state = :state")
	}
	if f.PR > 0 {
		names["#pr"], values[":pr"] = attrPR, attrN(int64(f.PR))
		filters = append(filters, "#pr = :pr")
	}
	if f.App != "" {
		return s.query(ctx, f, names, values, filters)
	}
	names["#sk"], values[":sk"] = AttrSK, attrS(releaseSK)
	filters = append(filters, "#sk = :sk")
	if f.Env != "" {
		names["#env"], values[":env"] = attrEnv, attrS(f.Env)
		filters = append(filters, "#env = :env")
	}
	return s.scan(ctx, names, values, strings.Join(filters, " AND "))
}

// queryPR reads every release gsi2 holds for pull request pr.
func (s *Store) queryPR(ctx context.Context, pr int) ([]map[string]types.AttributeValue, error) {
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexGSI2),
		KeyConditionExpression:    aws.String("#gpk = :gpk"),
		ExpressionAttributeNames:  map[string]string{"#gpk": AttrGSI2PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":gpk": attrS(gsi2pk(pr))},
	})
	var items []map[string]types.AttributeValue
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("querying %s: %w", IndexGSI2, err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

func (s *Store) query(ctx context.Context, f state.ReleaseFilter, names map[string]string, values map[string]types.AttributeValue, filters []string) ([]map[string]types.AttributeValue, error) {
	names["#gpk"], values[":gpk"] = AttrGSI1PK, attrS(gsi1pk(f.App))
	cond := "#gpk = :gpk"
	if f.Env != "" {
		names["#gsk"], values[":gsk"] = AttrGSI1SK, attrS(gsi1skPrefix(f.Env))
		cond += " AND begins_with(#gsk, :gsk)"
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    &cond,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	}
	// Within one environment the sort key orders by creation: the newest
	// come first backwards, and reading stops once there are enough.
	enough := func(int) bool { return false }
	if f.Newest > 0 && f.Env != "" && !f.ByUpdate {
		in.ScanIndexForward = aws.Bool(false)
		in.Limit = aws.Int32(int32(min(max(f.Newest*2, 16), 1000)))
		enough = func(n int) bool { return n >= f.Newest }
	}
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.api, in)
	for p.HasMorePages() && !enough(len(items)) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("querying %s: %w", IndexGSI1, err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

func (s *Store) scan(ctx context.Context, names map[string]string, values map[string]types.AttributeValue, filter string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{
		TableName:                 &s.table,
		FilterExpression:          &filter,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", s.table, err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

func gsi1pk(app string) string { return "app#" + app }

func gsi1skPrefix(env string) string { return "env#" + env + "#" }

func gsi2pk(pr int) string { return "pr#" + strconv.Itoa(pr) }

// gsi2Keys are the keys of r, which has a pull request, in gsi2: its
// releases ordered by creation.
func gsi2Keys(r state.Release) (pk, sk types.AttributeValue) {
	return attrS(gsi2pk(r.PR)), attrS(fmt.Sprintf("%020d#%s", r.CreatedAt.UnixNano(), r.ID))
}

func releaseItem(r state.Release) map[string]types.AttributeValue {
	item := releaseKey(r.ID)
	// The creation time in fixed-width nanoseconds sorts an app's
	// releases per environment by age within the index.
	item[AttrGSI1PK] = attrS(gsi1pk(r.App))
	item[AttrGSI1SK] = attrS(fmt.Sprintf("%s%020d#%s", gsi1skPrefix(r.Env), r.CreatedAt.UnixNano(), r.ID))
	// Only a release with a pull request is in gsi2: every write puts the
	// whole item, so the keys follow the release's pull request.
	if r.PR > 0 {
		item[AttrGSI2PK], item[AttrGSI2SK] = gsi2Keys(r)
	}
	for k, v := range map[string]string{
		"id": r.ID, attrApp: r.App, attrEnv: r.Env, "image": r.Image, "digest": r.Digest, "tag": r.Tag,
		"source_repo": r.SourceRepo, "source_commit": r.SourceCommit, attrState: string(r.State), "pr_url": r.PRURL,
		"branch": r.Branch, "merge_commit": r.MergeCommit, "merged_by": r.MergedBy, "trace_id": r.TraceID, "note": r.Note,
		"head_sha": r.HeadSHA, "override": r.Override,
	} {
		if v != "" {
			item[k] = attrS(v)
		}
	}
	if len(r.ApprovedBy) > 0 {
		// A list, not a string set: the order is kept.
		l := make([]types.AttributeValue, len(r.ApprovedBy))
		for i, u := range r.ApprovedBy {
			l[i] = attrS(u)
		}
		item["approved_by"] = &types.AttributeValueMemberL{Value: l}
	}
	item["rollback"] = &types.AttributeValueMemberBOOL{Value: r.Rollback}
	item[attrPR] = attrN(int64(r.PR))
	item[attrVersion] = attrN(int64(r.Version))
	putTime(item, "source_time", r.SourceTime)
	putTime(item, attrCreated, r.CreatedAt)
	putTime(item, "updated_at", r.UpdatedAt)
	putTime(item, "merged_at", r.MergedAt)
	return item
}

func decodeRelease(item map[string]types.AttributeValue) state.Release {
	return state.Release{
		ID:           getS(item, "id"),
		App:          getS(item, attrApp),
		Env:          getS(item, attrEnv),
		Image:        getS(item, "image"),
		Digest:       getS(item, "digest"),
		Tag:          getS(item, "tag"),
		SourceRepo:   getS(item, "source_repo"),
		SourceCommit: getS(item, "source_commit"),
		SourceTime:   getTime(item, "source_time"),
		State:        state.ReleaseState(getS(item, attrState)),
		Rollback:     getBool(item, "rollback"),
		PR:           int(getN(item, attrPR)),
		PRURL:        getS(item, "pr_url"),
		Branch:       getS(item, "branch"),
		MergeCommit:  getS(item, "merge_commit"),
		HeadSHA:      getS(item, "head_sha"),
		MergedBy:     getS(item, "merged_by"),
		ApprovedBy:   getStrings(item, "approved_by"),
		Override:     getS(item, "override"),
		TraceID:      getS(item, "trace_id"),
		Note:         getS(item, "note"),
		CreatedAt:    getTime(item, attrCreated),
		UpdatedAt:    getTime(item, "updated_at"),
		MergedAt:     getTime(item, "merged_at"),
		Version:      int(getN(item, attrVersion)),
	}
}

func getStrings(item map[string]types.AttributeValue, k string) []string {
	l, ok := item[k].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, v := range l.Value {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}
