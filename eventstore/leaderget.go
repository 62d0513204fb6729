package eventstore

// Reads whose answer must include every acknowledged write go to the
// stream's leader. On a replicated stream with allow_direct, a direct get
// may be answered by a follower that has not yet applied a write the leader
// has acknowledged: on a 3-process R3 cluster, 148 of 1,000 serial direct
// gets of a message just acknowledged answered 404 (docs/architecture.md,
// "Consistency of reads"). The leader answers the stream's message-get API
// only once it has applied every committed entry (nats-server's
// stream.isLeader waits for that after an election), so its answer holds
// every acknowledged write. nats.go's Stream.GetMsg switches to direct gets
// by itself when the stream allows them, hence this request of our own.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// msgGetRequest is the stream message-get API's request.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// msgGetResponse is its answer.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Subject string    `json:"subject"`
		Seq     uint64    `json:"seq"`
		Header  []byte    `json:"hdrs,omitempty"`
		Data    []byte    `json:"data,omitempty"`
		Time    time.Time `json:"time"`
	} `json:"message,omitempty"`
}

// leaderGet asks the stream's leader for one message: the one at req.Seq,
// the last on req.LastFor, or the first on req.NextFor at or after req.Seq.
// It returns ErrNotFound when the leader has no such message.
func (l *Log) leaderGet(ctx context.Context, stream string, req msgGetRequest) (Entry, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Entry{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.PublishTimeout)
	defer cancel()
	m, err := l.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, body)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: leader get from %s: %w", ErrUnavailable, stream, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return Entry{}, fmt.Errorf("%w: leader get from %s: %w", ErrUnavailable, stream, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return Entry{}, ErrNotFound
		}
		return Entry{}, fmt.Errorf("%w: leader get from %s: %w", ErrUnavailable, stream, resp.Error)
	}
	if resp.Message == nil {
		return Entry{}, fmt.Errorf("%w: leader get from %s: empty answer", ErrUnavailable, stream)
	}
	msg := resp.Message
	var hdr nats.Header
	if len(msg.Header) > 0 {
		if hdr, err = nats.DecodeHeadersMsg(msg.Header); err != nil {
			return Entry{}, fmt.Errorf("%w: leader get from %s: headers: %w", ErrUnavailable, stream, err)
		}
	}
	return Entry{Seq: msg.Seq, Subject: msg.Subject, Data: msg.Data, Header: ownHeaders(hdr), Time: msg.Time.UTC()}, nil
}
