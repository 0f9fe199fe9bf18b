/** The widget's strings: English and Simplified Chinese. */
import type { Language } from "./types";

const en = {
  openChat: "Open chat",
  closeChat: "Close chat",
  unread: (n: number) => `${n} unread message${n === 1 ? "" : "s"}`,
  title: "Support",
  placeholder: "Type your message…",
  inputLabel: "Message",
  send: "Send",
  typing: "The assistant is typing",
  talkToPerson: "Talk to a person",
  waiting: "Waiting for a person…",
  withAgent: "You're chatting with a person.",
  closed: "This conversation has ended. Send a message to start a new one.",
  you: "You",
  assistant: "Assistant",
  agent: "Support agent",
  offline: "You seem to be offline. Check your connection and try again.",
  retry: "Retry",
  tooFast: "You're sending messages too fast, please wait a moment",
  retryIn: (s: number) => `try again in ${s} s`,
  error: "Something went wrong. Please try again.",
  unavailable: "The chat is not available right now.",
  interrupted: "The answer was interrupted.",
  answerError: "Something went wrong while answering.",
  sources: "Sources",
  related: "Related",
  showPassage: (n: number) => `Show source ${n}`,
  helpful: "Helpful",
  notHelpful: "Not helpful",
  commentPlaceholder: "What was wrong? (optional)",
  commentLabel: "Comment",
  sendFeedback: "Send",
  thanks: "Thanks for your feedback!",
  feedbackFailed: "Your feedback could not be sent.",
};

export type Strings = typeof en;

const zh: Strings = {
  openChat: "打开聊天",
  closeChat: "关闭聊天",
  unread: (n) => `${n} 条未读消息`,
  title: "客服",
  placeholder: "请输入消息…",
  inputLabel: "消息",
  send: "发送",
  typing: "助手正在输入",
  talkToPerson: "转人工客服",
  waiting: "正在等待人工客服…",
  withAgent: "人工客服已接入。",
  closed: "本次会话已结束。发送消息即可开始新的会话。",
  you: "你",
  assistant: "助手",
  agent: "人工客服",
  offline: "网络似乎已断开，请检查连接后重试。",
  retry: "重试",
  tooFast: "您发送消息太快了，请稍等片刻",
  retryIn: (s) => `${s} 秒后重试`,
  error: "出了点问题，请重试。",
  unavailable: "聊天暂不可用。",
  interrupted: "回答被中断。",
  answerError: "回答时出了点问题。",
  sources: "来源",
  related: "相关",
  showPassage: (n) => `查看来源 ${n}`,
  helpful: "有帮助",
  notHelpful: "没有帮助",
  commentPlaceholder: "哪里不对？（可选）",
  commentLabel: "评论",
  sendFeedback: "提交",
  thanks: "感谢您的反馈！",
  feedbackFailed: "反馈提交失败。",
};

const TABLES: Record<Language, Strings> = { en, "zh-CN": zh };

/** The language to use: the config's, or for `auto` the browser's (zh* → zh-CN, else en). */
export function pickLanguage(configured: string | undefined, browser: string | undefined): Language {
  if (configured === "en" || configured === "zh-CN") return configured;
  return (browser || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function strings(lang: Language): Strings {
  return TABLES[lang] || en;
}
