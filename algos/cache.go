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

// cachedModel returns a model stored in dir under name and the hash of key
// when the file's metadata records the same key; otherwise it trains one with
// train and stores it there (dir "" disables the cache). what names the model
// in notices ("pre-trained model"), plan says what training does.
func cachedModel[M nn.Module](dir, name, what, plan string, key any, h Hooks, fresh func() M, train func() (M, error)) (M, error) {
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
			h.notice("loaded the %s from %s", what, path)
			return m, nil
		case err == nil:
			h.notice("cached model %s was trained with another configuration: training again", path)
		case errors.Is(err, fs.ErrNotExist):
			h.notice("no cached %s in %s: training one (%s)", what, dir, plan)
		default:
			h.notice("cached model unusable (%v): training again", err)
		}
	} else {
		h.notice("training the %s (%s, no cache)", what, plan)
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
	h.notice("cached the %s in %s", what, path)
	return m, nil
}

// pretrainCached returns the pre-trained noise predictor of a task from the
// cache, or trains it by denoising score matching on data and caches it.
func pretrainCached(b tensor.Backend, task string, vp sde.VP, dim int, c PretrainConfig, dir string, data DataSampler, h Hooks) (Net, error) {
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
			h.progress("pretrain", i+1, c.Iters)
			if h.Log != nil && (i%100 == 0 || i == c.Iters-1) {
				h.Log(Event{Method: "pretrain", Phase: "dsm", Iter: i, Loss: Number(loss)})
			}
		})
	}
	eps, err := cachedModel(dir, task+"-eps", "pre-trained model", fmt.Sprintf("%d steps × batch %d", c.Iters, c.Batch), key, h, fresh, train)
	if err != nil {
		return nil, err
	}
	nn.SetTrainable(eps, false)
	return eps, nil
}
