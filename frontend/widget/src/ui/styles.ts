/**
 * The widget's stylesheet, inside its shadow root. The page's selectors cannot reach in, but
 * inherited properties can: `:host` resets them all (`all: initial`, important so that it also
 * beats the page's important rules on the host), and `.root` sets its own. Sizes are in px, never
 * rem (the page owns the root font size).
 */
export const CSS = `
:host{all:initial!important;display:block!important;position:static!important;width:0!important;height:0!important;margin:0!important;padding:0!important;border:0!important;transform:none!important;filter:none!important;visibility:visible!important;opacity:1!important}
.root{font:400 14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2328;letter-spacing:normal;word-spacing:normal;text-transform:none;text-align:start;text-indent:0;white-space:normal;font-style:normal;cursor:auto;visibility:visible;-webkit-font-smoothing:antialiased;-webkit-text-size-adjust:100%}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
button,textarea{font:inherit;color:inherit;letter-spacing:inherit;text-transform:none;margin:0}
button{background:none;border:0;padding:0;cursor:pointer}
p,ul,ol,pre{margin:0 0 8px}
:focus-visible{outline:2px solid var(--dp-focus);outline-offset:2px}
.icon{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;flex:none}
.launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;background:var(--dp-color);color:var(--dp-on);display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(0,0,0,.22);transition:transform .15s}
.launcher:hover{transform:scale(1.05)}
.launcher .icon{width:26px;height:26px}
.left .launcher{right:auto;left:20px}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#d93025;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}
.panel{position:fixed;bottom:88px;right:20px;z-index:2147483001;width:380px;height:640px;max-height:calc(100vh - 108px);display:flex;flex-direction:column;background:#fff;border-radius:16px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden;animation:dp-in .18s ease-out}
.left .panel{right:auto;left:20px}
@keyframes dp-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}
.head{display:flex;align-items:center;gap:10px;padding:12px 12px 12px 16px;background:var(--dp-color);color:var(--dp-on)}
.avatar{width:32px;height:32px;border-radius:50%;object-fit:cover;background:rgba(255,255,255,.3)}
.title{flex:1;min-width:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.x{width:36px;height:36px;border-radius:8px;display:flex;align-items:center;justify-content:center}
.x:hover{background:rgba(127,127,127,.2)}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 12px;display:flex;flex-direction:column;gap:10px;background:#f6f7f9}
.row{display:flex}
.row.visitor{justify-content:flex-end}
.col{max-width:85%;min-width:0;display:flex;flex-direction:column;align-items:flex-start}
.col>*{max-width:100%}
.visitor .col{align-items:flex-end}
.who{font-size:12px;color:#57606a;margin:0 4px 2px}
.bubble{padding:9px 12px;border-radius:14px;background:#fff;border:1px solid #e3e6ea;overflow-wrap:anywhere;word-break:break-word;max-width:100%}
.visitor .bubble{background:var(--dp-color);color:var(--dp-on);border-color:transparent;white-space:pre-wrap}
.agent .bubble{border-left:3px solid var(--dp-color)}
.bubble>:last-child{margin-bottom:0}
.bubble ul,.bubble ol{padding-left:20px}
.bubble code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:rgba(127,127,127,.15);padding:1px 4px;border-radius:4px}
.bubble pre{overflow-x:auto;background:#f1f3f5;padding:8px;border-radius:8px;white-space:pre}
.bubble pre code{background:none;padding:0}
.bubble a{color:var(--dp-link);text-decoration:underline}
.cite{font-size:11px;vertical-align:super;color:#57606a}
.system{justify-content:center;text-align:center;font-size:12px;color:#57606a}
.typing{display:flex;gap:4px;padding:12px}
.typing span{width:7px;height:7px;border-radius:50%;background:#8c959f;animation:dp-dot 1s infinite}
.typing span:nth-child(2){animation-delay:.15s}
.typing span:nth-child(3){animation-delay:.3s}
@keyframes dp-dot{0%,60%,100%{opacity:.3;transform:none}30%{opacity:1;transform:translateY(-3px)}}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px;max-width:100%}
.chips-label{font-size:12px;color:#57606a;align-self:center}
.chip{display:inline-flex;gap:4px;align-items:center;max-width:100%;font-size:12px;line-height:18px;border:1px solid #d0d7de;border-radius:999px;padding:2px 9px;background:#fff;color:#1f2328;text-decoration:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.chip:hover{border-color:var(--dp-color)}
.chip b{color:var(--dp-link)}
.chip-t{min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.snippet{font-size:12px;background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:8px;margin-top:6px;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}
.note{font-size:12px;color:#57606a;margin:4px 4px 0}
.fail{font-size:12px;color:#b42318;margin:4px 4px 0;display:flex;gap:8px;align-items:center;flex-wrap:wrap;justify-content:flex-end}
.link-btn{color:var(--dp-link);text-decoration:underline;font-size:12px;font-weight:600}
.actions{display:flex;gap:2px;margin-top:2px}
.thumb{width:28px;height:28px;border-radius:6px;display:flex;align-items:center;justify-content:center;color:#8c959f}
.thumb .icon{width:16px;height:16px}
.thumb:hover,.thumb[aria-pressed=true]{color:var(--dp-link)}
.thumb[aria-pressed=true] .icon{fill:currentColor;fill-opacity:.25}
.comment{display:flex;gap:6px;margin-top:4px;width:100%}
.comment textarea{flex:1;min-width:0;height:56px;resize:none;font-size:13px;border:1px solid #d0d7de;border-radius:8px;padding:6px 8px;background:#fff}
.small-btn{padding:6px 10px;border-radius:8px;background:var(--dp-color);color:var(--dp-on);font-size:13px;align-self:flex-end}
.status{font-size:12px;text-align:center;padding:6px 12px;background:#fff8e1;color:#6b4e00}
.banner{display:flex;gap:8px;align-items:center;justify-content:space-between;font-size:13px;padding:8px 12px;background:#fdecea;color:#8a1f1f}
.tools{display:flex;justify-content:center;padding:6px 12px 0;background:#fff}
.person{display:inline-flex;gap:6px;align-items:center;font-size:13px;padding:5px 12px;border:1px solid #d0d7de;border-radius:999px;background:#fff}
.person .icon{width:16px;height:16px}
.composer{display:flex;gap:8px;align-items:flex-end;padding:10px 12px 12px;background:#fff;border-top:1px solid #eceef1}
.composer textarea{flex:1;min-width:0;min-height:40px;max-height:120px;resize:none;border:1px solid #d0d7de;border-radius:10px;padding:9px 10px;background:#fff;color:#1f2328;font-size:14px;line-height:20px}
.composer textarea:focus{border-color:var(--dp-color);outline:none;box-shadow:0 0 0 2px var(--dp-ring)}
.sendb{width:40px;height:40px;border-radius:10px;background:var(--dp-color);color:var(--dp-on);display:flex;align-items:center;justify-content:center;flex:none}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.panel,.left .panel{top:0;left:0;right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0}}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important}}
`;
