package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds a headless-capable browser, or "" if none.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// webWalk is a headless browser on the inbox page of one ticketd, for
// tests that click through it.
type webWalk struct {
	t          *testing.T
	ctx        context.Context
	shots      string // where shot writes: docs/screenshots with TICKETBUS_SCREENSHOTS=1
	profileDir string // the browser's profile, its disk cache among it
}

// newWebWalk starts a browser, or skips the test when there is none.
// Console errors and uncaught exceptions fail the test at its end.
func newWebWalk(t *testing.T) *webWalk {
	browser := chromiumPath()
	if browser == "" {
		t.Skip("chromium not installed: apt-get install -y chromium to run this test")
	}
	w := &webWalk{t: t, shots: t.TempDir(), profileDir: t.TempDir()}
	if os.Getenv("TICKETBUS_SCREENSHOTS") == "1" {
		w.shots = filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(w.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(w.profileDir),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	var mu sync.Mutex
	var consoleErrs []string
	listen := func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var s string
				for _, a := range ev.Args {
					s += string(a.Value) + " " + a.Description + " "
				}
				mu.Lock()
				consoleErrs = append(consoleErrs, "console.error: "+s)
				mu.Unlock()
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			s := d.Text
			if d.Exception != nil {
				s += " " + d.Exception.Description
			}
			mu.Lock()
			consoleErrs = append(consoleErrs, "exception: "+s)
			mu.Unlock()
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	t.Cleanup(cancel)
	w.ctx = ctx
	// The first Run, on the long-lived context, starts the browser and the tab.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range consoleErrs {
			t.Errorf("browser %s", e)
		}
	})
	return w
}

// step runs actions, each waiting on its condition, within 20 seconds.
func (w *webWalk) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	sctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		w.t.Fatalf("%s: %v", name, err)
	}
}

// eval runs a script in the page and decodes its result.
func webEval[T any](w *webWalk, name, expr string) T {
	w.t.Helper()
	sctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	var out T
	err := chromedp.Do(sctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		out, err = chromedp.Evaluate[T](expr)(ctx, tg)
		return err
	}))
	if err != nil {
		w.t.Fatalf("%s: %v", name, err)
	}
	return out
}

// shot saves a screenshot of the whole page as name.
func (w *webWalk) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(w.shots, name), buf, 0o644)
	})
}

// poll waits, up to 15 seconds, until the expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))(ctx, tg)
		return err
	})
}

// clickLive clicks in the page, in one evaluation that finds the element
// and clicks it, for parts the page re-renders every two seconds (the
// list, the side panel): a node found first and clicked after could be
// gone in between. It waits until the element is there, shown and
// enabled.
func clickLive(sel string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.getClientRects().length || e.disabled) return false; e.click(); return true; })()`, sel))
}

// blurLive takes the focus from whatever has it (a row the list may draw
// again at any time, a field), so that keys go to the page.
var blurLive = poll(`(document.activeElement && document.activeElement.blur(), document.activeElement === document.body)`)

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
func gone(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitNotPresent(chromedp.CSS(sel))
}

// textHas waits until the element's text holds want.
func textHas(sel, want string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(document.querySelector(%q)||{textContent:""}).textContent.includes(%q)`, sel, want))
}

func key(k string, mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent(k, chromedp.KeyModifiers(mods...))
}

// choose picks a select's option by its value, as a click on it would.
// Typing on a select (chromedp.SendKeys) picks by the options' words, but
// letters typed within a second of each other add up to one search.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => { const s = document.querySelector(%q); if (!s || s.disabled) return false;
		s.value = %q; s.dispatchEvent(new Event("change", { bubbles: true })); return s.value === %q; })()`, sel, value, value))
}

// focused waits until the element with this id has the focus.
func focused(id string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`document.activeElement && document.activeElement.id === %q`, id))
}

// row is a ticket's row in the list; dot its blue dot, pick its box.
func row(id string) string  { return `#ticket-list li[data-ticket-id="` + id + `"]` }
func dot(id string) string  { return row(id) + ` [data-testid="unread-dot"]` }
func pick(id string) string { return row(id) + ` input[data-testid="pick"]` }

// picked waits until the ticket's row is picked for a bulk action, or not.
func picked(id string, on bool) chromedp.Action[chromedp.Void] {
	return visible(fmt.Sprintf(`%s[data-picked="%t"]`, row(id), on))
}
