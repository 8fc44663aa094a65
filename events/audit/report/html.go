package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed review.html.tmpl
var reviewHTML string

var page = template.Must(template.New("review").Funcs(template.FuncMap{
	"f":   func(x float64) string { return fmt.Sprintf("%.1f", x) },
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
	"diamond": func(x, y float64) string {
		return fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f", x, y-6, x+6, y, x, y+6, x-6, y)
	},
	"cross": func(x, y float64) string {
		return fmt.Sprintf("M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f", x-5, y-5, x+5, y+5, x-5, y+5, x+5, y-5)
	},
	"rule": func() string { return ContainmentRule },
}).Parse(reviewHTML))

// HTML writes the review as one self-contained HTML page: inline CSS and an
// inline SVG timeline; nothing is fetched from anywhere.
func HTML(w io.Writer, r Review) error { return page.Execute(w, r) }
