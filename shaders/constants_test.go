//go:build cgo && linux && (amd64 || arm64 || riscv64 || ppc64le || loong64)

package shaders

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/difftune/difftune/tensor"
)

// The kernels take their operation as a number (a specialization constant)
// and dispatch on it with literals: `case 5u:` in common.glsl's unary_op,
// binary_op and activate, `OP == 3u` in reduce.comp, `MODE == 0u` in
// index.comp and im2col.comp. The numbers are the Go values (tensor.UnaryOp,
// tensor.BinaryOp, tensor.Activation, tensor.ReduceOp, opSoftmax and
// opLogSoftmax of ops_reduce.go, the modes that ops_misc.go passes). GLSL
// cannot import them, so the tests below read the sources of glsl/ and
// check that the branch each Go value selects computes that operation,
// recognised by a fingerprint: a piece of its code, compared without
// whitespace or comments. A failure says which value drifted and where its
// fingerprint is now; after an intended rewrite of a kernel, update the
// fingerprints here. (The SPIR-V in spv/ is what runs; TestSPIRVUpToDate
// checks that it is built from these sources.)

// glslSource returns the text of glsl/name.
func glslSource(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("glsl", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	lineComment  = regexp.MustCompile(`//[^\n]*`)
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
)

// squeeze drops comments and all white space, so that fingerprints do not
// depend on formatting.
func squeeze(s string) string {
	s = lineComment.ReplaceAllString(blockComment.ReplaceAllString(s, ""), "")
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// braced returns the text inside the braces that open at s[open].
func braced(t *testing.T, what, s string, open int) string {
	t.Helper()
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[open+1 : i]
			}
		}
	}
	t.Fatalf("%s: unbalanced braces", what)
	return ""
}

// glslFunc returns the squeezed body of function name in src.
func glslFunc(t *testing.T, file, src, name string) string {
	t.Helper()
	s := squeeze(src)
	// squeezed: "floatunary_op(uintop,floatx,...){"
	m := regexp.MustCompile(`(?:float|void|uint|int|bool|vec[234])` + regexp.QuoteMeta(name) + `\([^)]*\)\{`).FindStringIndex(s)
	if m == nil {
		t.Fatalf("%s: function %s not found", file, name)
	}
	return braced(t, file+": "+name, s, m[1]-1)
}

var caseLabel = regexp.MustCompile(`case(\d+)u?:`)

// switchCases splits the first switch of a squeezed function body into its
// cases (label value -> code up to the next label) and returns the code
// after the switch.
func switchCases(t *testing.T, what, body string) (cases map[int]string, after string) {
	t.Helper()
	i := strings.Index(body, "switch(")
	if i < 0 {
		t.Fatalf("%s: no switch", what)
	}
	open := i + strings.Index(body[i:], "{")
	inner := braced(t, what, body, open)
	after = body[open+len(inner)+2:]
	cases = map[int]string{}
	labels := caseLabel.FindAllStringSubmatchIndex(inner, -1)
	for k, l := range labels {
		end := len(inner)
		if k+1 < len(labels) {
			end = labels[k+1][0]
		}
		v, _ := strconv.Atoi(inner[l[2]:l[3]])
		if _, dup := cases[v]; dup {
			t.Errorf("%s: case %du appears twice", what, v)
		}
		cases[v] = inner[l[1]:end]
	}
	return cases, after
}

// enumLen counts the values of a Go enumeration by calling its String
// method, which indexes a table of names, until it panics.
func enumLen(name func(int) string) int {
	for n := 0; n < 256; n++ {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			name(n)
			return false
		}()
		if panicked {
			return n
		}
	}
	return 256
}

// opPrint is a Go operation code and the fingerprint of its GLSL branch.
type opPrint struct {
	code  int
	ident string // the Go constant
	print string // GLSL code of the branch, compared squeezed
}

// checkSwitch checks that case code of the switch of fn computes each
// operation of want (the values of the Go type goType, goLen in all; none
// is the value handled after the switch, or -1) and that the switch has no
// other cases.
func checkSwitch(t *testing.T, file, fn, goType string, goLen int, want []opPrint) {
	t.Helper()
	body := glslFunc(t, file, glslSource(t, file), fn)
	what := file + ": " + fn
	cases, after := switchCases(t, what, body)
	if len(want) != goLen {
		t.Errorf("%s has %d values, constants_test.go fingerprints %d: add the new values (and their cases in %s)", goType, goLen, len(want), what)
	}
	known := map[int]bool{}
	for _, w := range want {
		known[w.code] = true
		print := squeeze(w.print)
		var at []string
		for c, code := range cases {
			if strings.Contains(code, print) {
				at = append(at, fmt.Sprintf("case %du", c))
			}
		}
		if strings.Contains(after, print) {
			at = append(at, "after the switch")
		}
		slices.Sort(at)
		got, ok := cases[w.code]
		switch {
		case ok && strings.Contains(got, print):
			continue
		case !ok && len(at) == 1 && at[0] == "after the switch":
			continue // the default (tensor.ActNone)
		case len(at) > 0:
			t.Errorf("%s: %s = %d, but %s computes it at %s (want case %du): the GLSL and Go numbers drifted",
				what, w.ident, w.code, fn, strings.Join(at, ", "), w.code)
		default:
			t.Errorf("%s: no branch computes %s (= %d): want case %du containing %q; if the kernel was rewritten on purpose, update its fingerprint in constants_test.go",
				what, w.ident, w.code, w.code, w.print)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(cases)) {
		if !known[c] {
			t.Errorf("%s: case %du matches no %s value (%d of them)", what, c, goType, goLen)
		}
	}
}

// TestConstantsUnaryOps: common.glsl's unary_op is numbered as tensor.UnaryOp.
func TestConstantsUnaryOps(t *testing.T) {
	checkSwitch(t, "common.glsl", "unary_op", "tensor.UnaryOp", enumLen(func(i int) string { return tensor.UnaryOp(i).String() }), []opPrint{
		{int(tensor.OpNeg), "tensor.OpNeg", "return -x;"},
		{int(tensor.OpExp), "tensor.OpExp", "return exp_f(x);"},
		{int(tensor.OpLog), "tensor.OpLog", "return log_f(x);"},
		{int(tensor.OpSqrt), "tensor.OpSqrt", "return sqrt(x);"},
		{int(tensor.OpRsqrt), "tensor.OpRsqrt", "return 1.0 / sqrt(x);"},
		{int(tensor.OpTanh), "tensor.OpTanh", "return tanh_f(x);"},
		{int(tensor.OpSigmoid), "tensor.OpSigmoid", "return sigmoid_f(x);"},
		{int(tensor.OpSiLU), "tensor.OpSiLU", "return x * sigmoid_f(x);"},
		{int(tensor.OpReLU), "tensor.OpReLU", "return max_nan(x, 0.0);"},
		{int(tensor.OpAbs), "tensor.OpAbs", "return abs(x);"},
		{int(tensor.OpSquare), "tensor.OpSquare", "return x * x;"},
		{int(tensor.OpSin), "tensor.OpSin", "return sincos_f(x).x;"},
		{int(tensor.OpCos), "tensor.OpCos", "return sincos_f(x).y;"},
		{int(tensor.OpRecip), "tensor.OpRecip", "return 1.0 / x;"},
		{int(tensor.OpPowScalar), "tensor.OpPowScalar", "return pow_f(x, p, plo);"},
		{int(tensor.OpAddScalar), "tensor.OpAddScalar", "return x + p;"},
		{int(tensor.OpMulScalar), "tensor.OpMulScalar", "return x * p;"},
		{int(tensor.OpMaxScalar), "tensor.OpMaxScalar", "return max_nan(x, p);"},
		{int(tensor.OpMinScalar), "tensor.OpMinScalar", "return min_nan(x, p);"},
		{int(tensor.OpStep), "tensor.OpStep", "return x > 0.0 ? 1.0 : 0.0;"},
		{int(tensor.OpSoftplus), "tensor.OpSoftplus", "return softplus_f(x);"},
	})
}

// TestConstantsBinaryOps: common.glsl's binary_op is numbered as tensor.BinaryOp.
func TestConstantsBinaryOps(t *testing.T) {
	checkSwitch(t, "common.glsl", "binary_op", "tensor.BinaryOp", enumLen(func(i int) string { return tensor.BinaryOp(i).String() }), []opPrint{
		{int(tensor.OpAdd), "tensor.OpAdd", "return a + b;"},
		{int(tensor.OpSub), "tensor.OpSub", "return a - b;"},
		{int(tensor.OpMul), "tensor.OpMul", "return a * b;"},
		{int(tensor.OpDiv), "tensor.OpDiv", "return a / b;"},
		{int(tensor.OpPow), "tensor.OpPow", "return pow_f(a, b, 0.0);"},
		{int(tensor.OpMaximum), "tensor.OpMaximum", "return max_nan(a, b);"},
		{int(tensor.OpMinimum), "tensor.OpMinimum", "return min_nan(a, b);"},
		{int(tensor.OpGreater), "tensor.OpGreater", "return a > b ? 1.0 : 0.0;"},
		{int(tensor.OpSiLUGrad), "tensor.OpSiLUGrad", "float s = sigmoid_f(a); return b * s * (1.0 + a * (1.0 - s));"},
		{int(tensor.OpTanhGrad), "tensor.OpTanhGrad", "return b * (1.0 - a * a);"},
		{int(tensor.OpSigmoidGrad), "tensor.OpSigmoidGrad", "return b * a * (1.0 - a);"},
		{int(tensor.OpReLUGrad), "tensor.OpReLUGrad", "return a > 0.0 ? b : 0.0;"},
	})
}

// TestConstantsActivations: common.glsl's activate, the epilogue of
// matmul.comp (specialization constant ACT = uint32(act) in ops_matmul.go),
// is numbered as tensor.Activation, ActNone falling through the switch.
func TestConstantsActivations(t *testing.T) {
	checkSwitch(t, "common.glsl", "activate", "tensor.Activation", enumLen(func(i int) string { return tensor.Activation(i).String() }), []opPrint{
		{int(tensor.ActNone), "tensor.ActNone", "dy = 1.0; return z;"},
		{int(tensor.ActReLU), "tensor.ActReLU", "dy = z > 0.0 ? 1.0 : 0.0; return z > 0.0 ? z : 0.0;"},
		{int(tensor.ActSiLU), "tensor.ActSiLU", "float s = sigmoid_f(z); dy = s * (1.0 + z * (1.0 - s)); return z * s;"},
		{int(tensor.ActTanh), "tensor.ActTanh", "float y = tanh_f(z); dy = 1.0 - y * y;"},
		{int(tensor.ActSigmoid), "tensor.ActSigmoid", "float y = sigmoid_f(z); dy = y * (1.0 - y);"},
	})
	if !strings.Contains(squeeze(glslSource(t, "matmul.comp")), "activate(ACT,") {
		t.Error("matmul.comp no longer applies activate(ACT, ...): check how it reads tensor.Activation")
	}
}

// anchor is a piece of a kernel (a regular expression over its squeezed
// code) whose captured literals must be the Go values want.
type anchor struct {
	what string // the branch, for messages
	re   string
	want []int
	// idents names the Go constants of want, for messages.
	idents string
}

// checkAnchors checks each anchor of the squeezed code of file.
func checkAnchors(t *testing.T, file, code string, anchors []anchor) {
	t.Helper()
	for _, a := range anchors {
		m := regexp.MustCompile(a.re).FindAllStringSubmatch(code, -1)
		if len(m) != 1 {
			t.Errorf("%s: the %s branch (%s) is not found once (%d matches of %s): if the kernel was rewritten on purpose, update the anchor in constants_test.go",
				file, a.what, a.idents, len(m), a.re)
			continue
		}
		var got []int
		for _, s := range m[0][1:] {
			v, _ := strconv.Atoi(s)
			got = append(got, v)
		}
		want := slices.Clone(a.want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the %s branch tests %v, but %s = %v: the GLSL and Go numbers drifted", file, a.what, got, a.idents, a.want)
		}
	}
}

// docCodes reads "N name" pairs from the comment lines that start with
// prefix in src (and the comment lines that continue it).
func docCodes(t *testing.T, file, src, prefix string) map[string]int {
	t.Helper()
	lines := strings.Split(src, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), prefix) })
	if i < 0 {
		t.Fatalf("%s: no comment %q listing the codes", file, prefix)
	}
	var doc strings.Builder
	doc.WriteString(strings.TrimPrefix(strings.TrimSpace(lines[i]), prefix))
	for _, l := range lines[i+1:] {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "//") {
			break
		}
		doc.WriteString(" " + strings.TrimPrefix(l, "//"))
	}
	codes := map[string]int{}
	for _, m := range regexp.MustCompile(`(\d+) ([a-z][a-z-]*)`).FindAllStringSubmatch(doc.String(), -1) {
		codes[m[2]], _ = strconv.Atoi(m[1])
	}
	return codes
}

// TestConstantsReduceOps: reduce.comp's OP is a tensor.ReduceOp or
// opSoftmax / opLogSoftmax (ops_reduce.go), both in its code and in the
// comment that lists the codes.
func TestConstantsReduceOps(t *testing.T) {
	const file = "reduce.comp"
	src := glslSource(t, file)
	nReduce := enumLen(func(i int) string { return tensor.ReduceOp(i).String() })
	if nReduce != 5 {
		t.Errorf("tensor.ReduceOp has %d values, constants_test.go knows 5: add anchors for the new ones (and their code in %s)", nReduce, file)
	}
	// ops_reduce.go treats op >= opSoftmax as a softmax.
	if opSoftmax < nReduce || opLogSoftmax < nReduce || opSoftmax == opLogSoftmax {
		t.Errorf("opSoftmax = %d, opLogSoftmax = %d: want distinct values after the %d tensor.ReduceOp values", opSoftmax, opLogSoftmax, nReduce)
	}

	// The comment: "OP: 0 sum, 1 max, ... then 5 softmax and 6 log-softmax".
	want := map[string]int{"softmax": opSoftmax, "log-softmax": opLogSoftmax}
	for i := range nReduce {
		want[tensor.ReduceOp(i).String()] = i
	}
	if got := docCodes(t, file, src, "// OP:"); !maps.Equal(got, want) {
		t.Errorf("%s: its comment numbers the ops %v, the Go values are %v", file, got, want)
	}

	code := squeeze(glslFunc(t, file, src, "do_row"))
	checkAnchors(t, file, code, []anchor{
		{"sum", `if\(OP==(\d+)u\)\{floatsum=0\.0,comp=0\.0;`, []int{int(tensor.ReduceSum)}, "tensor.ReduceSum"},
		{"max/min/argmax", `\}elseif\(OP==(\d+)u\|\|OP==(\d+)u\|\|OP==(\d+)u\)\{boolisMin=`,
			[]int{int(tensor.ReduceMax), int(tensor.ReduceMin), int(tensor.ReduceArgMax)}, "tensor.ReduceMax, ReduceMin, ReduceArgMax"},
		{"min", `boolisMin=OP==(\d+)u;`, []int{int(tensor.ReduceMin)}, "tensor.ReduceMin"},
		{"argmax", `result=OP==(\d+)u\?float\(i\):v;`, []int{int(tensor.ReduceArgMax)}, "tensor.ReduceArgMax"},
		{"logsumexp infinities", `if\(OP!=(\d+)u\|\|!isinf\(m\)\)`, []int{int(tensor.ReduceLogSumExp)}, "tensor.ReduceLogSumExp"},
		{"logsumexp", `if\(OP==(\d+)u\)\{result=lz;`, []int{int(tensor.ReduceLogSumExp)}, "tensor.ReduceLogSumExp"},
		{"log-softmax", `=OP==(\d+)u\?v:exp_f\(v\);`, []int{opLogSoftmax}, "opLogSoftmax"},
	})
	// Softmax is the final else: every literal the kernel tests must be a
	// known code, and softmax's must be none of them but the op list's.
	known := map[int]bool{opSoftmax: true, opLogSoftmax: true}
	for i := range nReduce {
		known[i] = true
	}
	for _, m := range regexp.MustCompile(`OP[=!]=(\d+)u`).FindAllStringSubmatch(squeeze(src), -1) {
		if v, _ := strconv.Atoi(m[1]); !known[v] || v == opSoftmax {
			t.Errorf("%s tests OP against %du, which is no tensor.ReduceOp, opLogSoftmax (%d) or reduce.comp's fall-through softmax (%d)", file, v, opLogSoftmax, opSoftmax)
		}
	}
}

// goModes returns, for each function of ops_misc.go in fns, the mode
// literal it passes: the first specialization constant of its launch of
// kernel (modeArg < 0), or argument modeArg of its call to helper.
func goModes(t *testing.T, kernel, helper string, fns ...string) map[string]int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "ops_misc.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]int{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !slices.Contains(fns, fd.Name.Name) {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			var lit ast.Expr
			switch {
			case helper != "" && sel.Sel.Name == helper:
				lit = call.Args[0]
			case helper == "" && sel.Sel.Name == "launch":
				if k, ok := call.Args[0].(*ast.Ident); ok && k.Name == kernel {
					if spec, ok := call.Args[1].(*ast.CompositeLit); ok && len(spec.Elts) > 0 {
						lit = spec.Elts[0]
					}
				}
			}
			if b, ok := lit.(*ast.BasicLit); ok && b.Kind == token.INT {
				modes[fd.Name.Name], _ = strconv.Atoi(b.Value)
			}
			return true
		})
	}
	for _, fn := range fns {
		if _, ok := modes[fn]; !ok {
			t.Errorf("ops_misc.go: no mode literal found for %s (launch of %s / call of %s): update constants_test.go", fn, kernel, helper)
		}
	}
	return modes
}

// glslModes reads "Name (MODE n)" from the comments of a kernel.
func glslModes(src string) map[string]int {
	modes := map[string]int{}
	for _, m := range regexp.MustCompile(`(\w+) \(MODE (\d+)\)`).FindAllStringSubmatch(src, -1) {
		modes[m[1]], _ = strconv.Atoi(m[2])
	}
	return modes
}

// TestConstantsModes: index.comp and im2col.comp take the operation as MODE,
// which ops_misc.go passes as a literal.
func TestConstantsModes(t *testing.T) {
	for _, k := range []struct {
		file, kernel, helper string
		fns                  []string
		first                anchor // the MODE == n branch, which must be fns[0]
	}{
		{"index.comp", "kIndex", "", []string{"IndexSelect", "IndexAdd"},
			anchor{"IndexSelect", `if\(MODE==(\d+)u\)\{uintj=rest%pc\.len,`, nil, "the IndexSelect mode of ops_misc.go"}},
		{"im2col.comp", "", "im2col", []string{"Im2Col", "Col2Im"},
			anchor{"Im2Col", `if\(MODE==(\d+)u\)\{intsp=ie%spatial;`, nil, "the Im2Col mode of ops_misc.go"}},
	} {
		t.Run(k.file, func(t *testing.T) {
			src := glslSource(t, k.file)
			goM := goModes(t, k.kernel, k.helper, k.fns...)
			if doc := glslModes(src); !maps.Equal(doc, goM) {
				t.Errorf("%s: its comment numbers the modes %v, ops_misc.go passes %v", k.file, doc, goM)
			}
			a := k.first
			a.want = []int{goM[k.fns[0]]}
			code := squeeze(src)
			checkAnchors(t, k.file, code, []anchor{a})
			if len(goM) == 2 && goM[k.fns[0]] == goM[k.fns[1]] {
				t.Errorf("ops_misc.go passes mode %d for both %s", goM[k.fns[0]], strings.Join(k.fns, " and "))
			}
			for _, m := range regexp.MustCompile(`MODE[=!]=(\d+)u`).FindAllStringSubmatch(code, -1) {
				if v, _ := strconv.Atoi(m[1]); !slices.Contains(slices.Collect(maps.Values(goM)), v) {
					t.Errorf("%s tests MODE against %du, which ops_misc.go never passes (%v)", k.file, v, goM)
				}
			}
		})
	}
}
