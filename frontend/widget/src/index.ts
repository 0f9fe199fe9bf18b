/** The embeddable entry: `<script src="…/widget.js" data-site-key="pk_…" async></script>`. */
import { boot, findScript } from "./boot";

const script = findScript(document); // document.currentScript is only set while this runs
if (script) {
  boot(script).catch((e) => console.warn("[deskpilot] the widget failed to start:", e));
} else {
  console.warn("[deskpilot] cannot find the widget's <script> tag (data-site-key missing?)");
}
