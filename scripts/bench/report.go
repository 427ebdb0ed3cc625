package main

import (
	"fmt"
	"slices"
	"strings"
)

// stat formats the median and range of f over rs: "12.3 (11.9–12.8)".
func stat(rs []*result, f func(*result) float64, format string) string {
	var v []float64
	for _, r := range rs {
		if r.Err == "" {
			v = append(v, f(r))
		}
	}
	if len(v) == 0 {
		return "—"
	}
	slices.Sort(v)
	med := median(v)
	if len(v) == 1 {
		return fmt.Sprintf(format, med)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", med, v[0], v[len(v)-1])
}

func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

type key struct {
	tool string
	conc int
}

// groups splits results by tool and concurrency, in order of first appearance.
func groups(rs []*result) ([]key, map[key][]*result) {
	var order []key
	m := map[key][]*result{}
	for _, r := range rs {
		k := key{r.Tool, r.Conc}
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = append(m[k], r)
	}
	return order, m
}

// section is the table of one copy scenario.
func section(title string, d *dataset, desc string, rs []*result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", title)
	fmt.Fprintf(&b, "Data set %s: %d objects, %.1f MiB (mean %.1f KiB). %s Median (min–max) of %d round(s).\n\n",
		d.name, d.objects, float64(d.bytes)/(1<<20), float64(d.bytes)/float64(max(d.objects, 1))/1024, desc, rounds(rs))
	b.WriteString("| tool | workers | objects/s | MB/s | client CPU s | CPU ms/100 obj | peak RSS MB | requests/object | server CPU s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	order, m := groups(rs)
	for _, k := range order {
		g := m[k]
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", k.tool, k.conc,
			stat(g, (*result).objPerS, "%.0f"), stat(g, (*result).mbPerS, "%.1f"), stat(g, (*result).cpu, "%.2f"),
			stat(g, func(r *result) float64 { return r.cpu() * 1000 / float64(r.Objects) * 100 }, "%.1f"),
			stat(g, func(r *result) float64 { return float64(r.RSSKB) / 1024 }, "%.0f"),
			stat(g, (*result).reqPerObj, "%.2f"), stat(g, func(r *result) float64 { return r.ServerCPU }, "%.1f"))
	}
	b.WriteString("\nRequests by operation (first round): ")
	var parts []string
	for _, k := range order {
		r := m[k][0]
		var ops []string
		for op, n := range r.Requests {
			ops = append(ops, fmt.Sprintf("%s %d", op, n))
		}
		slices.Sort(ops)
		parts = append(parts, fmt.Sprintf("%s@%d: %s", k.tool, k.conc, strings.Join(ops, ", ")))
	}
	b.WriteString(strings.Join(parts, "; ") + ".\n\n")
	b.WriteString(errorsOf(rs))
	return b.String()
}

func rounds(rs []*result) int {
	n := 0
	for _, r := range rs {
		n = max(n, r.Round)
	}
	return n
}

// ratios compares tool@conc with each peer at the same concurrency within each round (the
// same conditions), then takes the median and range of those ratios.
func ratios(rs []*result, tool string, conc int, peers []string) string {
	var b strings.Builder
	for _, p := range peers {
		var thr, cpu []float64
		for round := 1; round <= rounds(rs); round++ {
			a, z := find(rs, tool, conc, round), find(rs, p, conc, round)
			if a == nil || z == nil || a.Err != "" || z.Err != "" {
				continue
			}
			thr = append(thr, a.objPerS()/z.objPerS())
			cpu = append(cpu, (a.cpu()/float64(a.Objects))/(z.cpu()/float64(z.Objects)))
		}
		if len(thr) == 0 {
			continue
		}
		slices.Sort(thr)
		slices.Sort(cpu)
		fmt.Fprintf(&b, "- %s@%d ÷ %s@%d, same round: objects/s **%.2f×** (%.2f–%.2f), client CPU per object %.2f× (%.2f–%.2f)\n",
			tool, conc, p, conc, median(thr), thr[0], thr[len(thr)-1], median(cpu), cpu[0], cpu[len(cpu)-1])
	}
	return b.String() + "\n"
}

// sweep lists tool's throughput by concurrency.
func sweep(rs []*result, tool string) string {
	order, m := groups(rs)
	var b strings.Builder
	fmt.Fprintf(&b, "%s by --concurrency: ", tool)
	var parts []string
	var concs []int
	for _, k := range order {
		if k.tool == tool {
			concs = append(concs, k.conc)
		}
	}
	slices.Sort(concs)
	for _, c := range concs {
		parts = append(parts, fmt.Sprintf("%d → %s obj/s", c, stat(m[key{tool, c}], (*result).objPerS, "%.0f")))
	}
	b.WriteString(strings.Join(parts, ", ") + ".\n\n")
	return b.String()
}

func find(rs []*result, tool string, conc, round int) *result {
	for _, r := range rs {
		if r.Tool == tool && r.Conc == conc && r.Round == round {
			return r
		}
	}
	return nil
}

func errorsOf(rs []*result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.Err != "" {
			fmt.Fprintf(&b, "- **error** %s round %d %s@%d: %s\n", r.Scenario, r.Round, r.Tool, r.Conc, r.Err)
		}
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	return b.String()
}
