package algos

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// CachedModel returns a model stored in env.Cache under name and the hash of
// key when the file's metadata records the same key and the sha256 of its
// weights (WeightsHash), all finite; otherwise it trains one with train and
// stores it there, atomically (no cache dir: always trains). A file that
// cannot be read, or whose weights are altered or not finite, is renamed
// aside (.bad) with a notice. what names the model in notices ("pre-trained
// model"), plan says what training does.
func CachedModel[M nn.Module](env Env, name, what, plan string, key any, fresh func() M, train func() (M, error)) (M, error) {
	dir, h := env.Cache, env.Hooks
	raw, err := json.Marshal(key)
	if err != nil {
		var zero M
		return zero, fmt.Errorf("cache key: %w", err)
	}
	path := ""
	if dir != "" {
		path = filepath.Join(dir, fmt.Sprintf("%s-%x.safetensors", name, sha256.Sum256(raw)))
		m := fresh()
		meta, err := nn.LoadCheckpoint(path, m)
		if err == nil && meta["config"] == string(raw) {
			err = checkWeights(m, meta["sha256"])
			if err == nil {
				h.Noticef("loaded the %s from %s", what, path)
				return m, nil
			}
		}
		switch {
		case err == nil:
			h.Noticef("cached model %s was trained with another configuration: training again", path)
		case errors.Is(err, fs.ErrNotExist):
			h.Noticef("no cached %s in %s: training one (%s)", what, dir, plan)
		default:
			bad := path + ".bad"
			if rerr := os.Rename(path, bad); rerr != nil {
				h.Noticef("cached model %s unusable (%v), and it could not be set aside (%v): training again", path, err, rerr)
			} else {
				h.Noticef("cached model %s unusable (%v): set aside as %s, training again", path, err, bad)
			}
		}
	} else {
		h.Noticef("training the %s (%s, no cache)", what, plan)
	}
	m, err := train()
	if err != nil || path == "" {
		return m, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, fmt.Errorf("cache: %w", err)
	}
	sum, err := WeightsHash(m)
	if err != nil {
		h.Noticef("not caching the %s: %v", what, err)
		return m, nil
	}
	// SaveCheckpoint replaces the file atomically.
	if err := nn.SaveCheckpoint(path, m, map[string]string{"config": string(raw), "sha256": sum}); err != nil {
		return m, fmt.Errorf("cache: %w", err)
	}
	h.Noticef("cached the %s in %s", what, path)
	return m, nil
}

// PretrainCached returns the pre-trained noise predictor of a task from the
// cache, or trains it by denoising score matching on data and caches it.
func PretrainCached(env Env, task string, vp sde.VP, dim int, c PretrainConfig, data DataSampler) (Net, error) {
	b, h := env.Backend, env.Hooks
	key := struct {
		Task     string
		VP       sde.VP
		Pretrain PretrainConfig
	}{task, vp, c}
	fresh := func() Net {
		return NewEpsNet(&nn.Init{Backend: b, DType: tensor.Float32, Seed: c.Seed}, dim, c)
	}
	train := func() (Net, error) {
		return Pretrain(b, vp, dim, c, data, func(i int, loss float64) {
			h.Tick("pretrain", i+1, c.Iters)
			if i%100 == 0 || i == c.Iters-1 {
				h.Emit(Event{Method: "pretrain", Phase: "dsm", Iter: i, Loss: Number(loss)})
			}
		})
	}
	eps, err := CachedModel(env, task+"-eps", "pre-trained model", fmt.Sprintf("%d steps × batch %d", c.Iters, c.Batch), key, fresh, train)
	if err != nil {
		return nil, err
	}
	nn.SetTrainable(eps, false)
	return eps, nil
}

// WeightsHash is the hex sha256 of a module's parameters as a checkpoint
// stores them: each parameter's name, then its float32 values little-endian,
// in the module's order. It fails on a weight that is not finite.
func WeightsHash(m nn.Module) (string, error) {
	hash := sha256.New()
	var buf [4]byte
	for _, p := range m.Params() {
		hash.Write([]byte(p.Name))
		hash.Write([]byte{0})
		for i, v := range p.Value.Float32s() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return "", fmt.Errorf("parameter %s[%d] is %v", p.Name, i, v)
			}
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			hash.Write(buf[:])
		}
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

// checkWeights reports a loaded model whose weights are not finite or whose
// hash is not the one recorded when it was cached.
func checkWeights(m nn.Module, want string) error {
	got, err := WeightsHash(m)
	switch {
	case err != nil:
		return err
	case want == "":
		return errors.New("no checksum recorded (cached by an older version)")
	case got != want:
		return fmt.Errorf("checksum of the weights %.12s…, recorded %.12s…: the file was altered", got, want)
	}
	return nil
}
