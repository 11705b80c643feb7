package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// isTerminal reports whether w is a character device (a terminal), so
// that progress is drawn for a person watching and never written into a
// pipe or a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line bar on stderr for a long operation. It
// redraws only when the shown value changes (a percent, or a count step
// when the total is unknown), so a fast loop costs a comparison per item
// and the output does not depend on timing. A nil *progress does nothing.
type progress struct {
	w     io.Writer
	label string
	total int64 // <= 0: unknown, draw a count
	done  int64
	shown int64 // the percent, or count step, drawn last; -1 before the first draw
	drawn bool
}

// newProgress returns a bar on w when w is a terminal, else nil.
func newProgress(w io.Writer, label string, total int64) *progress {
	if !isTerminal(w) {
		return nil
	}
	return newBar(w, label, total)
}

// newBar returns a bar drawn on w whatever w is.
func newBar(w io.Writer, label string, total int64) *progress {
	return &progress{w: w, label: label, total: total, shown: -1}
}

// countStep is how often a bar with no known total redraws its count.
const countStep = 256

// set moves the bar to n done.
func (p *progress) set(n int64) {
	if p == nil {
		return
	}
	p.done = n
	mark := n / countStep
	if p.total > 0 {
		mark = min(100, n*100/p.total)
	}
	if mark == p.shown {
		return
	}
	p.shown = mark
	p.draw()
}

// add moves the bar n further.
func (p *progress) add(n int64) {
	if p != nil {
		p.set(p.done + n)
	}
}

func (p *progress) draw() {
	p.drawn = true
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s %d", p.label, p.done)
		return
	}
	const width = 30
	pct := p.shown
	fill := int(pct * width / 100)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%%", p.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct)
}

// finish erases the bar, leaving the line as it was before.
func (p *progress) finish() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}
