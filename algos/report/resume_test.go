package report

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/difftune/difftune/algos"
)

func TestLockRefusesASecondRunAndTakesOverAStaleOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	l, err := LockDir(dir, nil)
	require.NoError(t, err)
	// A second run (this very process counts) refuses, naming the pid.
	_, err = LockDir(dir, nil)
	var le LockError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, os.Getpid(), le.PID)
	assert.Contains(t, err.Error(), "in use by process "+strconv.Itoa(os.Getpid()))
	require.NoError(t, l.Unlock())
	_, err = os.Stat(filepath.Join(dir, LockName))
	assert.True(t, errors.Is(err, os.ErrNotExist), "the lock stayed after Unlock")

	// The lock of a process that has ended is taken over with a notice.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := cmd.Process.Pid
	require.NoError(t, os.WriteFile(filepath.Join(dir, LockName), []byte(`{"pid":`+strconv.Itoa(dead)+`,"started":"then"}`), 0o644))
	var notices []string
	l, err = LockDir(dir, func(m string) { notices = append(notices, m) })
	require.NoError(t, err)
	require.Len(t, notices, 1)
	assert.Contains(t, notices[0], "stale lock")
	assert.Contains(t, notices[0], strconv.Itoa(dead))
	raw, err := os.ReadFile(filepath.Join(dir, LockName))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"pid":`+strconv.Itoa(os.Getpid()))
	require.NoError(t, l.Unlock())

	// A held lock is respected even before its owner wrote its pid; a lock
	// file that nobody holds is stale whatever it holds, and taken over.
	l, err = LockDir(dir, nil)
	require.NoError(t, err)
	require.NoError(t, l.f.Truncate(0))
	_, err = LockDir(dir, nil)
	require.ErrorAs(t, err, &le)
	assert.Contains(t, err.Error(), "in use by another process")
	require.NoError(t, l.Unlock())
	require.NoError(t, os.WriteFile(filepath.Join(dir, LockName), []byte("garbage"), 0o644))
	notices = nil
	l, err = LockDir(dir, func(m string) { notices = append(notices, m) })
	require.NoError(t, err)
	require.Len(t, notices, 1)
	assert.Contains(t, notices[0], "unreadable stale lock")
	require.NoError(t, l.Unlock())
	require.NoError(t, l.Unlock(), "a second Unlock")
}

// TestLockRaceHasOneWinner races goroutines, each with its own open file,
// for a stale lock (a dead process's pid inside) and for a lock that its
// owner releases meanwhile: in every round exactly one wins.
func TestLockRaceHasOneWinner(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	stale := []byte(`{"pid":` + strconv.Itoa(cmd.Process.Pid) + `,"started":"then"}`)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for round := range 30 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, LockName), stale, 0o644))
		var held *Lock
		if round%2 == 1 {
			// The owner unlocks while the others race: some open its file
			// before it goes and must not count it as theirs.
			var err error
			held, err = LockDir(dir, nil)
			require.NoError(t, err)
		}
		const racers = 8
		var wg sync.WaitGroup
		locks := make([]*Lock, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				locks[i], errs[i] = LockDir(dir, nil)
			})
		}
		close(start)
		if held != nil {
			require.NoError(t, held.Unlock())
		}
		wg.Wait()
		won := 0
		for i := range locks {
			if errs[i] == nil {
				won++
				continue
			}
			var le LockError
			require.ErrorAs(t, errs[i], &le, "round %d", round)
		}
		if held == nil {
			require.Equal(t, 1, won, "round %d: winners of a stale lock", round)
		} else {
			// Those that tried before the owner left lost; of the later
			// ones exactly one won: never two.
			require.LessOrEqual(t, won, 1, "round %d: winners", round)
		}
		for _, l := range locks {
			if l != nil {
				require.NoError(t, l.Unlock())
			}
		}
	}
}

// TestLockOfAKilledProcess holds the lock in a child process: the parent is
// refused, naming the child; once the child is killed (SIGKILL: nothing
// removes its file) the parent takes the lock over.
func TestLockOfAKilledProcess(t *testing.T) {
	if dir := os.Getenv("DIFFTUNE_TEST_HOLD_LOCK"); dir != "" {
		if _, err := LockDir(dir, nil); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := filepath.Join(t.TempDir(), "out")
	child := exec.Command(os.Args[0], "-test.run", "^TestLockOfAKilledProcess$")
	child.Env = append(os.Environ(), "DIFFTUNE_TEST_HOLD_LOCK="+dir)
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	defer child.Process.Kill()
	line := make([]byte, 7)
	_, err = io.ReadFull(out, line)
	require.NoError(t, err)
	require.Equal(t, "locked\n", string(line))
	_, err = LockDir(dir, nil)
	var le LockError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, child.Process.Pid, le.PID)
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	child.Wait()
	var notices []string
	l, err := LockDir(dir, func(m string) { notices = append(notices, m) })
	require.NoError(t, err)
	require.Len(t, notices, 1)
	assert.Contains(t, notices[0], strconv.Itoa(child.Process.Pid))
	require.NoError(t, l.Unlock())
}

func TestPrepareDirRefusesAnotherConfiguration(t *testing.T) {
	dir := t.TempDir()
	note := func(string) {}
	mode, err := prepareDir(dir, map[string]any{"a": 1}, "cpu", false, true, note, "")
	require.NoError(t, err)
	assert.Equal(t, dirFresh, mode, "an empty directory")
	d, err := OpenDir(dir, map[string]any{"a": 1, "b": map[string]any{"c": 0.001}}, "cpu")
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, WriteJSON(filepath.Join(dir, "summary.json"), summaryOf(1, 3, 0.5)))

	mode, err = prepareDir(dir, map[string]any{"a": 1, "b": map[string]any{"c": 0.001}}, "cpu", false, true, note, "")
	require.NoError(t, err)
	assert.Equal(t, dirResume, mode, "the same configuration resumes")

	_, err = prepareDir(dir, map[string]any{"a": 1, "b": map[string]any{"c": 0.002}}, "cpu", false, true, note, "")
	var ie InputError
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, err.Error(), "b.c differs")
	assert.Contains(t, err.Error(), "-force")
	_, err = prepareDir(dir, map[string]any{"a": 1, "b": map[string]any{"c": 0.001}}, "vulkan", false, true, note, "")
	assert.ErrorContains(t, err, "device differs")
	_, err = os.Stat(filepath.Join(dir, "summary.json"))
	require.NoError(t, err, "a refusal touched the old run")

	mode, err = prepareDir(dir, map[string]any{"a": 2}, "cpu", true, true, note, "")
	require.NoError(t, err)
	assert.Equal(t, dirFresh, mode)
	for _, f := range []string{"summary.json", "config.json", "metrics.jsonl", "checkpoints"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.True(t, errors.Is(err, os.ErrNotExist), "-force left %s", f)
	}

	// A resume's marks in config.json are not part of the configuration.
	d, err = OpenDir(dir, map[string]any{"a": 1}, "cpu")
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, markResumed(dir, []string{"elegant"}, nil))
	mode, err = prepareDir(dir, map[string]any{"a": 1}, "cpu", false, true, note, "")
	require.NoError(t, err)
	assert.Equal(t, dirResume, mode)
	cfg, err := ParseConfig(mustReadFile(t, filepath.Join(dir, "config.json")))
	require.NoError(t, err)
	assert.Contains(t, string(mustJSON(t, cfg["resumed"])), `"reused":["elegant"]`)
	mode, err = prepareDir(dir, map[string]any{"a": 1}, "cpu", false, false, note, "")
	require.NoError(t, err)
	assert.Equal(t, dirFresh, mode, "-resume=false starts over")
}

type toyTask struct{ algos.Task }

func (toyTask) Name() string            { return "toy" }
func (toyTask) Nominal() algos.Reward   { return nil }
func (toyTask) Oracle() *algos.Oracle   { return nil }
func (toyTask) Columns() []algos.Column { return nil }

func TestRunStoreRoundTrips(t *testing.T) {
	d, err := OpenDir(t.TempDir(), map[string]any{}, "cpu")
	require.NoError(t, err)
	defer d.Close()
	var notices []string
	s := &runStore{d: d, task: toyTask{}, notice: func(m string) { notices = append(notices, m) }}
	run := algos.RunInfo{Name: "elegant_a0.5", Method: "elegant", Alpha: 0.5}
	_, ok := s.Load(run)
	assert.False(t, ok)
	assert.Empty(t, notices, "a run never saved is no news")

	ms := algos.MethodSummary{RewardNominal: 1.25, KL: algos.Number(math.Inf(1)), Seconds: 3}
	ms.SetExtra("energy_distance", 0.1)
	ms.Note("diverged", "at 3")
	saved := algos.SavedRun{Summary: ms, Samples: []float64{0.1, math.Pi, math.NaN(), -1e-300},
		Curve: []algos.CurvePoint{{Iter: 0, Nominal: 1, Genuine: math.NaN()}, {Iter: 1, Nominal: 2.5, Genuine: 0.5}}}
	require.NoError(t, s.Save(run, saved, nil))
	back, ok := s.Load(run)
	require.True(t, ok, "%v", notices)
	assert.Equal(t, saved.Samples[:2], back.Samples[:2])
	assert.True(t, math.IsNaN(back.Samples[2]))
	assert.Equal(t, saved.Samples[3], back.Samples[3], "samples are kept exactly")
	assert.Equal(t, mustJSON(t, saved.Summary), mustJSON(t, back.Summary))
	assert.Equal(t, 2.5, back.Curve[1].Nominal)
	assert.True(t, math.IsNaN(back.Curve[0].Genuine))

	// Another run of the same name, or a damaged file, is refit with a
	// notice.
	_, ok = s.Load(algos.RunInfo{Name: "elegant_a0.5", Method: "elegant", Alpha: 0.25})
	assert.False(t, ok)
	require.NoError(t, os.WriteFile(d.File("runs/elegant_a0.5.npy"), []byte("garbage"), 0o644))
	_, ok = s.Load(run)
	assert.False(t, ok)
	assert.Len(t, notices, 2)
	assert.Contains(t, notices[1], "unusable")
}

// FuzzParseSavedRun checks that a resume's reading of runs/<name>.json never
// panics and that what it accepts writes back to JSON it accepts again.
func FuzzParseSavedRun(f *testing.F) {
	f.Add([]byte(`{"run":{"name":"elegant","method":"elegant","alpha":1},"summary":{"reward_nominal":1,"reward_genuine":null,"kl":2,"diversity":3,"seconds":1,"oracle_queries":0,"energy_distance":0.1},"curve":[{"iter":0,"nominal":1,"genuine":null}],"samples":"elegant.npy","checkpoints":["elegant_control.safetensors"]}`))
	f.Add([]byte(`{"run":{"name":"../x"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := parseSavedRun(raw)
		if err != nil {
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %q, which does not marshal: %v", raw, err)
		}
		if _, err := parseSavedRun(again); err != nil {
			t.Fatalf("accepted %q, rejected its re-encoding %s: %v", raw, again, err)
		}
	})
}

// FuzzParseConfig checks that reading config.json on a resume never panics,
// accepts only JSON objects, and that a configuration equals itself.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"task":"gmm2d","task_config":{"Reward":"linear:1,0","Steps":25},"plan":{"Seed":1,"Alphas":null},"device":"cpu","started":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"a":1e400}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := ParseConfig(raw)
		if err != nil {
			return
		}
		if cfg == nil {
			t.Fatalf("accepted %q as a nil object", raw)
		}
		if !strings.HasPrefix(strings.TrimLeft(string(raw), " \t\r\n"), "{") {
			t.Fatalf("accepted %q, not an object", raw)
		}
		device, ok := cfg["device"].(string)
		if !ok {
			return
		}
		same := map[string]any{}
		for k, v := range cfg {
			if k != "device" && k != "started" && k != "resumed" {
				same[k] = v
			}
		}
		if diff, err := configDiff(cfg, same, device); err == nil && len(diff) > 0 {
			t.Fatalf("%q differs from itself at %v", raw, diff)
		}
	})
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
