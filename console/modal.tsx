// A modal confirmation (native <dialog>: focus moves in, Escape closes, focus returns after).
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.js";

export interface Outcome {
  ok: boolean;
  action: string;
  text: string;
}

/** The API's answer as an outcome: the engine's reason when accepted, its refusal (409) when not. */
export async function outcomeOf(action: string, run: () => Promise<{ body: { detail: string; decisions?: string[] } | null }>): Promise<Outcome> {
  try {
    const r = await run();
    // The engine's answer first, then whatever else it decided because of it (a drain's moves).
    const more = (r.body?.decisions ?? []).filter((d) => d !== r.body?.detail);
    return { ok: true, action, text: [r.body?.detail ?? "done", ...more].join("; then ") };
  } catch (err) {
    const e = err as ApiError;
    const label = e.status === 409 ? "Refused by the engine" : e.status ? `Failed (${e.status} ${e.title})` : "Failed";
    return { ok: false, action, text: `${label}: ${e.detail || e.message}` };
  }
}

export function Modal(props: {
  title: string;
  confirm: string;
  danger?: boolean;
  /** Disable confirm (form not complete). */
  ready?: boolean;
  onConfirm: () => Promise<Outcome>;
  onDone: (o: Outcome) => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current!;
    d.showModal();
    const closed = () => props.onClose();
    d.addEventListener("close", closed);
    return () => d.removeEventListener("close", closed);
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    const o = await props.onConfirm();
    setBusy(false);
    props.onDone(o);
    ref.current?.close();
  };
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" class="modal">
      <form onSubmit={submit}>
        <h2 id="dialog-title">{props.title}</h2>
        {props.children}
        <div class="buttons">
          <button type="button" class="secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? "danger" : undefined} disabled={busy || props.ready === false} data-confirm>
            {busy ? "Sending…" : props.confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
