/**
 * The operations dashboard: a page of views over the database's history, kept in the URL
 * (`#/queries?window=7d`), each drawn from /api/ops. Signed in with the admin token once; the
 * session lives in an HttpOnly cookie the page never sees.
 */
import "./style.css";
import { ApiFailure, sendJson, SignedOut } from "./api.js";
import { destroyCharts } from "./charts.js";
import { h } from "./dom.js";
import { clockTime, setZone, zone, type Zone } from "./format.js";
import { WINDOWS, type Window } from "./types.js";
import * as views from "./views.js";
import type { ViewContext } from "./views.js";

interface Route {
  view: string;
  id?: string;
  window: Window;
}

const VIEWS: Array<{ view: string; title: string }> = [
  { view: "overview", title: "Overview" },
  { view: "queries", title: "Queries" },
  { view: "connections", title: "Connections" },
  { view: "space", title: "Space" },
  { view: "findings", title: "Indexes & maintenance" },
  { view: "tune", title: "Tune" },
  { view: "backups", title: "Backups & recovery" },
];

function currentRoute(): Route {
  const [path = "", query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [view = "overview", id] = path.split("/");
  const asked = new URLSearchParams(query).get("window");
  const window = WINDOWS.includes(asked as Window) ? (asked as Window) : "24h";
  return { view: VIEWS.some((v) => v.view === view) ? view : "overview", ...(id ? { id: decodeURIComponent(id) } : {}), window };
}

function hrefOf(route: Route): string {
  return `#/${route.view}${route.id ? `/${encodeURIComponent(route.id)}` : ""}?window=${route.window}`;
}

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const windows = document.getElementById("windows") as HTMLElement;
const zones = document.getElementById("zones") as HTMLElement;
const status = document.getElementById("status") as HTMLElement;
const signOut = document.getElementById("sign-out") as HTMLButtonElement;
const dialog = document.getElementById("confirm") as HTMLDialogElement;

let timers: number[] = [];
let drawing = 0;
/** Whether a session is open: the server's hint cookie (the session's own is out of the page's reach) until a 401 says otherwise. */
let signedIn = Number(/(?:^|;\s*)gap_ops_signed_in=(\d+)/.exec(document.cookie)?.[1] ?? 0) > Date.now() / 1000;

function stopTimers(): void {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

function confirmed(message: string): Promise<boolean> {
  (dialog.querySelector(".message") as HTMLElement).textContent = message;
  dialog.returnValue = "";
  dialog.showModal();
  (dialog.querySelector("button[value=cancel]") as HTMLButtonElement).focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true }));
}

function drawChrome(route: Route): void {
  nav.replaceChildren(
    ...VIEWS.map((v) => h("a", { href: hrefOf({ view: v.view, window: route.window }), "aria-current": v.view === route.view ? "page" : undefined }, v.title)),
  );
  windows.replaceChildren(
    h("span", { id: "window-label" }, "Window"),
    ...WINDOWS.map((w) =>
      h(
        "a",
        { href: hrefOf({ ...route, window: w }), class: "window", "aria-current": w === route.window ? "true" : undefined, "aria-describedby": "window-label" },
        w,
      ),
    ),
  );
  const zoneChoice = (value: Zone, label: string) =>
    h(
      "button",
      {
        type: "button",
        class: "zone",
        "aria-pressed": zone() === value ? "true" : "false",
        onclick: () => {
          setZone(value);
          void draw();
        },
      },
      label,
    );
  zones.replaceChildren(h("span", { id: "zone-label" }, "Times in"), zoneChoice("utc", "UTC"), zoneChoice("local", "local"));
}

function signInForm(): HTMLElement {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password", required: true });
  const problem = h("p", { role: "alert", class: "problem" });
  const form = h(
    "form",
    {
      class: "sign-in",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void (async () => {
          try {
            await sendJson("POST", "/api/ops/session", { token: input.value });
            input.value = "";
            signedIn = true;
            await draw();
          } catch (error) {
            problem.textContent = error instanceof SignedOut ? "That is not the admin token." : error instanceof Error ? error.message : String(error);
          }
        })();
      },
    },
    h("h2", {}, "Sign in"),
    h("p", {}, "With the platform's ADMIN_TOKEN (npm start keeps it in .local/admin-token)."),
    h("label", { for: "token" }, "Admin token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    problem,
  );
  queueMicrotask(() => input.focus());
  return form;
}

async function draw(): Promise<void> {
  const ticket = ++drawing;
  stopTimers();
  destroyCharts();
  const route = currentRoute();
  drawChrome(route);
  if (!signedIn) {
    signOut.hidden = true;
    main.replaceChildren(signInForm());
    return;
  }
  main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
  main.setAttribute("aria-busy", "true");
  const content = h("div", {});
  const ctx: ViewContext = {
    window: route.window,
    refresh: () => void draw(),
    confirm: confirmed,
    every: (ms, work) => {
      timers.push(window.setInterval(() => void work().catch(showProblem), ms));
    },
  };
  try {
    const title = VIEWS.find((v) => v.view === route.view)?.title ?? "";
    main.replaceChildren(h("h1", {}, route.view === "queries" && route.id ? "Statement" : title), content);
    if (route.view === "queries" && route.id) await views.statementPage(content, ctx, route.id);
    else if (route.view === "queries") await views.queriesView(content, ctx);
    else if (route.view === "connections") await views.connectionsView(content, ctx);
    else if (route.view === "space" && route.id === "relation") await views.relationPage(content, ctx);
    else if (route.view === "space") await views.spaceView(content, ctx);
    else if (route.view === "findings") await views.findingsView(content);
    else if (route.view === "tune") await views.tuneView(content);
    else if (route.view === "backups") await views.backupsView(content, ctx);
    else await views.overviewView(content, ctx);
    if (ticket !== drawing) return;
    signOut.hidden = false;
    document.title = `${title} · database operations`;
    status.textContent = `Updated ${clockTime(new Date())}`;
  } catch (error) {
    if (ticket !== drawing) return;
    stopTimers();
    if (error instanceof SignedOut) {
      signedIn = false;
      signOut.hidden = true;
      main.replaceChildren(signInForm());
    } else {
      showProblem(error);
    }
  } finally {
    main.removeAttribute("aria-busy");
  }
}

function showProblem(error: unknown): void {
  if (error instanceof SignedOut) {
    signedIn = false;
    void draw();
    return;
  }
  const message = error instanceof ApiFailure || error instanceof Error ? error.message : String(error);
  status.textContent = `Problem: ${message}`;
  main.prepend(h("p", { role: "alert", class: "problem" }, message));
}

signOut.addEventListener("click", () => {
  signedIn = false;
  void sendJson("DELETE", "/api/ops/session").finally(() => void draw());
});
window.addEventListener("hashchange", () => void draw());
// The skip link moves the focus without touching the URL, which holds the view.
document.querySelector(".skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
// An unhandled failure of an action (a cancel, a mode switch) is shown, not left in the console.
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showProblem(event.reason);
});
void draw();
