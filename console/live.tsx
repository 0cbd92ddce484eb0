// "Live · updated 1 s ago", or the error while polling fails (it keeps retrying).
import { secs, useNow } from "./util.js";

export function Live(props: { error: string | null; lastOk: number | null }) {
  const now = useNow(1000);
  if (props.error) {
    return (
      <p class="live down" role="status">
        Not updating: {props.error}. Retrying…
      </p>
    );
  }
  return (
    <p class="live" aria-live="off">
      <span class="dot" aria-hidden="true" /> Live{props.lastOk ? ` · checked ${secs(Math.max(0, now - props.lastOk))} ago` : ""}
    </p>
  );
}
