package eventstore_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketbus/ticketbus/eventstore"
	"github.com/ticketbus/ticketbus/eventstore/eventstoretest"
)

func TestKeysRoundTrip(t *testing.T) {
	t.Parallel()
	l := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	ctx := context.Background()
	keys := l.Keys()
	if _, err := keys.Get(ctx, "p1"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("get before create: %v, want ErrNotFound", err)
	}
	k1, err := keys.GetOrCreate(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(k1.Secret) != eventstore.KeySize || k1.ID == "" {
		t.Fatalf("key %+v", k1)
	}
	again, err := keys.GetOrCreate(ctx, "p1")
	if err != nil || again.ID != k1.ID || !bytes.Equal(again.Secret, k1.Secret) {
		t.Fatalf("second GetOrCreate %+v (%v), want %+v", again, err, k1)
	}
	// A second log on the same streams has an empty cache: it reads the store.
	other := eventstoretest.MustOpenLog(t, eventstoretest.MustOpenServer(t), eventstore.LogConfig{})
	if _, err := other.Keys().Get(ctx, "p1"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("other server: %v", err)
	}
	k2, err := keys.GetOrCreate(ctx, "p2")
	if err != nil || bytes.Equal(k2.Secret, k1.Secret) {
		t.Fatalf("p2 %+v (%v): must differ from p1", k2, err)
	}
	k1.Secret[0] ^= 0xff // callers own what they get
	if got, _ := keys.Get(ctx, "p1"); bytes.Equal(got.Secret, k1.Secret) {
		t.Fatal("changing a returned key changed the cache")
	}
}

func TestKeysCreateRace(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	// Separate logs have separate caches, as separate processes would.
	logs := []*eventstore.Log{
		eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{}),
		eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{}),
	}
	const racers = 10
	got := make([]eventstore.Key, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = logs[i%2].Keys().GetOrCreate(context.Background(), "race")
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i].ID != got[0].ID || !bytes.Equal(got[i].Secret, got[0].Secret) {
			t.Fatalf("racer %d got key %s, racer 0 got %s", i, got[i].ID, got[0].ID)
		}
	}
}

// storeHolds reports which files under dir contain needle.
func storeHolds(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by the server while walking
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// forms returns the raw, hex and base64 forms of each secret.
func forms(secrets map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range secrets {
		out[name+" (raw)"] = b
		out[name+" (hex)"] = []byte(hex.EncodeToString(b))
		out[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString(b))
	}
	return out
}

// TestKeysDestroyErasesFromDisk follows one key through a destroy and the
// rotation after it: the profile key itself is never on disk, its sealed
// record is overwritten by the destroy, and the KEK that sealed it leaves
// every file with the rotation, while the other keys of its shard stay
// readable, sealed under the new KEK.
func TestKeysDestroyErasesFromDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := openServerIn(t, dir)
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	ctx := context.Background()
	keys := l.Keys()
	// Neighbours before and after in the same block, so that the erase has
	// to rewrite a block in place rather than drop a whole file.
	secrets := map[string][]byte{}
	for i := range 5 {
		tok := fmt.Sprintf("p%d", i)
		k, err := keys.GetOrCreate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		secrets[tok] = k.Secret
	}
	victim, err := keys.Secrets(ctx, "p2")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(victim["key"], secrets["p2"]) {
		t.Fatal("Secrets does not name the key GetOrCreate made")
	}
	if hits := storeHolds(t, dir, victim["key"]); len(hits) > 0 {
		t.Fatalf("a profile key is on disk unsealed, in %v", hits)
	}
	for _, name := range []string{"sealed key", "kek"} {
		found := false
		for _, form := range forms(map[string][]byte{name: victim[name]}) {
			found = found || len(storeHolds(t, dir, form)) > 0
		}
		if !found {
			t.Fatalf("the %s is not on disk before Destroy: the checks below could not fail", name)
		}
	}
	note, err := keys.Destroy(ctx, "p2")
	if err != nil || note == 0 {
		t.Fatalf("destroy: note %d, %v", note, err)
	}
	if hits := storeHolds(t, dir, victim["sealed key"]); len(hits) > 0 {
		t.Errorf("the destroyed key's record is still in %v", hits)
	}
	if state, err := keys.ErasureState(ctx, "p2"); err != nil || state != eventstore.ErasurePending {
		t.Fatalf("erasure before the rotation: %q, %v; want pending", state, err)
	}
	st, rotations, err := keys.Erase(ctx, time.Now())
	if err != nil || rotations != 1 || st.Pending != 0 || st.Confirmed < note {
		t.Fatalf("erase: %+v, %d rotations, %v", st, rotations, err)
	}
	if state, err := keys.ErasureState(ctx, "p2"); err != nil || state != eventstore.ErasureComplete {
		t.Fatalf("erasure after the rotation: %q, %v; want complete", state, err)
	}
	for name, form := range forms(victim) {
		if hits := storeHolds(t, dir, form); len(hits) > 0 {
			t.Errorf("%s of the destroyed key still in %v", name, hits)
		}
	}
	if _, err := keys.Get(ctx, "p2"); !errors.Is(err, eventstore.ErrKeyDestroyed) {
		t.Fatalf("get after destroy: %v, want ErrKeyDestroyed", err)
	}
	if _, err := keys.Destroy(ctx, "p2"); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
	if note, err := keys.Destroy(ctx, "never"); err != nil || note != 0 {
		t.Fatalf("destroy of a missing key: note %d, %v", note, err)
	}
	// After a restart, read through an empty cache: the erased key stays
	// gone and the others open, sealed under the new ring.
	srv.Shutdown()
	srv2 := openServerIn(t, dir)
	l2 := eventstoretest.MustOpenLog(t, srv2, eventstore.LogConfig{})
	if _, err := l2.Keys().Get(ctx, "p2"); !errors.Is(err, eventstore.ErrKeyDestroyed) {
		t.Fatalf("destroyed key back after restart: %v", err)
	}
	for _, tok := range []string{"p0", "p1", "p3", "p4"} {
		if k, err := l2.Keys().Get(ctx, tok); err != nil || !bytes.Equal(k.Secret, secrets[tok]) {
			t.Fatalf("neighbour %s after the rotation and a restart: %v", tok, err)
		}
	}
	for name, form := range forms(victim) {
		if hits := storeHolds(t, dir, form); len(hits) > 0 {
			t.Errorf("after restart, %s of the destroyed key in %v", name, hits)
		}
	}
}

// TestKeysOpen checks what each key id of a token opens to, read through a
// store whose cache predates a destroy and a new key made elsewhere.
func TestKeysOpen(t *testing.T) {
	t.Parallel()
	srv := eventstoretest.MustOpenServer(t)
	ctx := context.Background()
	// Separate logs have separate caches, as separate processes would.
	stale := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{}).Keys()
	other := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{}).Keys()
	first, err := stale.GetOrCreate(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Destroy(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	second, err := other.GetOrCreate(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID {
		t.Fatal("a key made after a destroy has the destroyed key's id")
	}
	if state, err := stale.ErasureState(ctx, "p"); err != nil || state != eventstore.ErasurePending {
		t.Fatalf("erasure after a new key: %q, %v; want the destroyed key's, pending", state, err)
	}
	for _, tc := range []struct {
		name, token, id string
		want            []byte
		err             error
	}{
		{"the current key, not yet cached", "p", second.ID, second.Secret, nil},
		{"the destroyed key, still cached", "p", first.ID, nil, eventstore.ErrErased},
		{"an id the token never had", "p", "no-such-id", nil, eventstore.ErrErased},
		{"a token with no record at all", "never", first.ID, nil, eventstore.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stale.Open(ctx, tc.token, tc.id)
			if !errors.Is(err, tc.err) || !bytes.Equal(got.Secret, tc.want) {
				t.Fatalf("Open(%s, %s) = %x, %v; want %x, %v", tc.token, tc.id, got.Secret, err, tc.want, tc.err)
			}
		})
	}
	if _, err := other.Destroy(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(ctx, "p", second.ID); !errors.Is(err, eventstore.ErrErased) {
		t.Fatalf("open after the second destroy: %v, want ErrErased", err)
	}
}

// TestKeysMigrateLegacy opens a log on a key stream written before
// keyrings: a key in the clear on "tb.key.<token>". The key must come out
// the same, sealed on its new subject, and the clear record be gone.
func TestKeysMigrateLegacy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := openServerIn(t, dir)
	ctx := context.Background()
	first := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	secret := bytes.Repeat([]byte{0x5a, 0xc3}, eventstore.KeySize/2)
	msg := nats.NewMsg("tb.key.bGVnYWN5") // base64url("legacy")
	msg.Data = secret
	msg.Header.Set("Tb-Key-Id", "legacy-key-id")
	if _, err := first.JetStream().PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if len(storeHolds(t, dir, secret)) == 0 {
		t.Fatal("the legacy key is not on disk: the test could not see the migration")
	}
	l := eventstoretest.MustOpenLog(t, srv, eventstore.LogConfig{})
	got, err := l.Keys().Get(ctx, "bGVnYWN5")
	if err != nil || got.ID != "legacy-key-id" || !bytes.Equal(got.Secret, secret) {
		t.Fatalf("migrated key: %+v, %v", got, err)
	}
	if hits := storeHolds(t, dir, secret); len(hits) > 0 {
		t.Fatalf("the key is still in the clear in %v", hits)
	}
	st, err := l.JetStream().Stream(ctx, eventstore.KeysStream)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := st.GetLastMsgForSubject(ctx, "tb.key.bGVnYWN5"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the legacy subject still holds %+v (%v)", m, err)
	}
}

// openServerIn starts a server with its store in dir, shut down when the
// test ends (a test may shut it down before, to look at its files).
func openServerIn(t *testing.T, dir string) *eventstore.Server {
	t.Helper()
	srv, err := eventstore.OpenServer(eventstore.ServerConfig{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}
