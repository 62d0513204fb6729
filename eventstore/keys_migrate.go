package eventstore

import (
	"context"
	"fmt"
)

// migrateLegacy moves the keys stored before keyrings existed, in the
// clear on "tb.key.<token>", to their sealed form on their shard's subject,
// and overwrites the old records. It runs when the log opens; instances
// racing through it agree, as every write is checked.
func (k *Keys) migrateLegacy(ctx context.Context) error {
	var legacy []Entry
	if err := k.lastPerSubject(ctx, keysSubjectPrefix+"*", func(e Entry) { legacy = append(legacy, e) }); err != nil {
		return fmt.Errorf("migrate keys: %w", err)
	}
	for _, e := range legacy {
		token := lastToken(e.Subject)
		subj, err := keySubject(token)
		if err != nil {
			return fmt.Errorf("migrate keys: %w", err)
		}
		if e.Header.Get(hdrKeyDestroyed) == "" && len(e.Data) == KeySize && e.Header.Get(hdrKeyID) != "" {
			w := keyWrite{subj: subj, token: token, key: Key{ID: e.Header.Get(hdrKeyID), Secret: e.Data}}
			seq, kekID, err := k.store(ctx, w, 0)
			switch {
			case err == nil:
				if err := k.keepSealed(ctx, w, seq, kekID); err != nil {
					return fmt.Errorf("migrate keys: %w", err)
				}
			case !isWrongLastSequence(err): // moved already by another instance
				return fmt.Errorf("migrate keys: %w", err)
			}
		}
		var seqs []uint64
		if err := k.log.readSubject(ctx, KeysStream, e.Subject, 0, func(e Entry) error {
			seqs = append(seqs, e.Seq)
			return nil
		}); err != nil {
			return fmt.Errorf("migrate keys: %w", err)
		}
		if err := k.erase(ctx, seqs); err != nil {
			return fmt.Errorf("migrate keys: %w", err)
		}
	}
	return nil
}
