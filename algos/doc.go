// Package algos is the top floor of difftune: the fine-tuning methods, the
// abstractions every task and method is written against, and the one runner
// that drives them (docs/ALGORITHMS.md is the spec of every formula).
//
//   - A Task (task.go) owns its data, its pre-training recipe, the nominal
//     reward r̂, the genuine reward behind a counting Oracle, its evaluation
//     and, where known, its exact target. The tasks live in algos/tasks, one
//     file each, and register themselves with RegisterTask.
//   - A Method (method.go) fits a sampler on a pre-trained model of a task:
//     ELEGANT (elegant.go), nostep2, NO KL, Truncation, Random, Guidance and
//     PPO + KL, one file each, and the SEIKO variants (seiko.go; their
//     reward models with uncertainty in feedback.go), each registered with
//     RegisterMethod and configured by its own options, whose defaults come
//     from the task's Recipe.
//   - Run (runner.go) pre-trains or loads the model from the cache, fits each
//     method at its α, samples, evaluates and returns a Result; it reports
//     what it does through Hooks (events, progress, notices), and keeps
//     each finished run through Env.Runs, reusing those that a stopped
//     invocation finished. Writing the run directory is package
//     algos/report's job.
//
// α travels once: the runner hands each fit its α in the Context, and run
// names are derived from (method, α), never parsed back.
//
// Numbers that may not be finite (a diverged method) are Numbers, written to
// JSON as null. Errors are returned for bad settings and data; shape
// mismatches inside the engine panic.
package algos
