package sim

import (
	"fmt"
	"html"
	"strings"
)

var plotColors = [...]string{"#3b6fd8", "#d8573b", "#1b9e5a", "#9b4dca", "#c98a00", "#0f8fa3", "#d6336c", "#5c6b7a"}

// Plot draws a run's series as an SVG: each mirror's utilisation (over
// each poll period) and effective ÷ configured weight, against time, with
// the changes marked. Points are averaged into at most 600 columns.
func Plot(r *Result, title string) string {
	s := r.Series
	const W, panelH, L, R, T, gap = 900, 220, 50, 130, 30, 40
	H := T + 2*panelH + gap + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", W, H, L, html.EscapeString(title))
	if s == nil || len(s.Times) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	t0, t1 := 0.0, s.Times[len(s.Times)-1]
	x := func(t float64) float64 { return L + (W-L-R)*(t-t0)/(t1-t0) }
	panel := func(top float64, label string, series [][]float64, maxV float64) {
		y := func(v float64) float64 { return top + panelH*(1-min(v, maxV)/maxV) }
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", L, top-6, label)
		for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
			v := f * maxV
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e4e6ea"/><text x="%d" y="%.1f" text-anchor="end" fill="#556">%.2g</text>`+"\n",
				L, W-R, y(v), y(v), L-4, y(v)+4, v)
		}
		for _, c := range s.Changes {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#888" stroke-dasharray="4 3"/>`+"\n", x(c.At), x(c.At), top, top+panelH)
		}
		for m, vs := range series {
			cols := min(len(vs), 600)
			var pts []string
			for c := range cols {
				lo, hi := c*len(vs)/cols, (c+1)*len(vs)/cols
				sum := 0.0
				for _, v := range vs[lo:hi] {
					sum += v
				}
				mid := (lo + hi - 1) / 2
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.Times[mid]), y(sum/float64(hi-lo))))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>`+"\n", plotColors[m%len(plotColors)], strings.Join(pts, " "))
		}
	}
	panel(T+20, "utilisation of each mirror's link", s.Utilization, 1)
	maxW := 1.0
	for _, vs := range s.Weight {
		for _, v := range vs {
			maxW = max(maxW, v)
		}
	}
	panel(T+20+panelH+gap, "effective ÷ configured weight", s.Weight, maxW)
	for h := 0.0; h <= t1/3600; h += max(1, float64(int(t1/3600/12))) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#556">%gh</text>`+"\n", x(h*3600), H-8, h)
	}
	for m, name := range s.Mirrors {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s %.0f%%</text>`+"\n",
			W-R+10, T+30+18*m, plotColors[m%len(plotColors)], W-R+25, T+39+18*m, html.EscapeString(name), 100*r.Utilization[name])
	}
	b.WriteString("</svg>\n")
	return b.String()
}
