package algos

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/difftune/difftune/nn"
	"github.com/difftune/difftune/sde"
	"github.com/difftune/difftune/tensor"
)

// CachedModel returns a model stored in env.Cache under name and the hash of
// key when the file's metadata records the same key; otherwise it trains one
// with train and stores it there (no cache dir: always trains). what names
// the model in notices ("pre-trained model"), plan says what training does.
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
		switch {
		case err == nil && meta["config"] == string(raw):
			h.Noticef("loaded the %s from %s", what, path)
			return m, nil
		case err == nil:
			h.Noticef("cached model %s was trained with another configuration: training again", path)
		case errors.Is(err, fs.ErrNotExist):
			h.Noticef("no cached %s in %s: training one (%s)", what, dir, plan)
		default:
			h.Noticef("cached model unusable (%v): training again", err)
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
	if err := nn.SaveCheckpoint(path, m, map[string]string{"config": string(raw)}); err != nil {
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
