// A scrolling list that renders only the entries in view (plus a margin), so thousands of
// tickets scroll as smoothly as ten. Entries carry their own fixed height.
import { Component, createRef } from "/static/vendor/preact.js";
import { html } from "./html.js";

const MARGIN = 8; // entries rendered beyond each edge of the view
const NEAR_END = 20; // entries from the end at which the next page is asked for
const FALLBACK_HEIGHT = 800;

let offsetsMemo = { entries: null, offsets: [0] };

/** Where each entry starts (and, last, the total height). */
function offsetsOf(entries) {
  if (offsetsMemo.entries !== entries) {
    const offsets = new Array(entries.length + 1);
    offsets[0] = 0;
    for (let i = 0; i < entries.length; i++) offsets[i + 1] = offsets[i] + entries[i].height;
    offsetsMemo = { entries, offsets };
  }
  return offsetsMemo.offsets;
}

/** The index of the entry covering pixel `y`. */
function indexAt(offsets, y) {
  let low = 0;
  let high = offsets.length - 2;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (offsets[mid] <= y) low = mid;
    else high = mid - 1;
  }
  return Math.max(0, low);
}

export class VirtualList extends Component {
  box = createRef();
  state = { top: 0, height: 0 };
  frame = 0;
  shownUpTo = 0;

  componentDidMount() {
    this.observer = new ResizeObserver(this.measure);
    this.observer.observe(this.box.current);
    this.measure();
  }

  componentWillUnmount() {
    this.observer.disconnect();
    cancelAnimationFrame(this.frame);
  }

  measure = () => {
    const el = this.box.current;
    if (el) this.setState({ top: el.scrollTop, height: el.clientHeight });
  };

  onScroll = () => {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.measure();
      });
    }
  };

  componentDidUpdate(previous) {
    if (previous.cursorKey !== this.props.cursorKey) this.reveal(this.props.cursorKey);
    const { entries, onNearEnd } = this.props;
    if (onNearEnd && entries.length && this.shownUpTo >= entries.length - NEAR_END) onNearEnd();
  }

  /** Scroll just enough for the entry with this key to be in view. */
  reveal(key) {
    const el = this.box.current;
    const { entries } = this.props;
    const index = entries.findIndex((entry) => entry.key === key);
    if (!el || index < 0) return;
    const offsets = offsetsOf(entries);
    if (offsets[index] < el.scrollTop) el.scrollTop = offsets[index];
    else if (offsets[index + 1] > el.scrollTop + el.clientHeight) {
      el.scrollTop = offsets[index + 1] - el.clientHeight;
    }
  }

  render({ entries, renderEntry, label }, { top, height }) {
    const offsets = offsetsOf(entries);
    const first = Math.max(0, indexAt(offsets, top) - MARGIN);
    const bottom = top + (height || FALLBACK_HEIGHT);
    const last = Math.min(entries.length, indexAt(offsets, bottom) + MARGIN + 1);
    this.shownUpTo = last;
    return html`
      <div class="ticket-list" ref=${this.box} onScroll=${this.onScroll} role="listbox"
        aria-label=${label} data-testid="ticket-list" data-total=${entries.length}>
        <div class="list-canvas" style=${{ height: `${offsets[entries.length]}px` }}>
          <div class="list-window" style=${{ transform: `translateY(${offsets[first]}px)` }}>
            ${entries.slice(first, last).map(renderEntry)}
          </div>
        </div>
      </div>
    `;
  }
}
