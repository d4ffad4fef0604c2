// Package lineage answers the questions asked of a delivery pipeline from
// its release records: which commit runs where (status), how a commit
// travelled (history), and the DORA metrics — deployment frequency, lead
// time for changes, change failure rate and time to restore.
package lineage
