/**
 * Chat messages and finish reasons between modelpool's shapes and the vendors' (OpenAI's and the
 * servers that copy it, Anthropic's, Ollama's).
 */
import type { ChatMessage, FinishReason } from '../../model/types.js';

/** Text of a message's content: a string, or its text parts joined. */
export function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  return content.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

function argumentsText(args: string | Record<string, unknown>): string {
  return typeof args === 'string' ? args : JSON.stringify(args);
}

/** OpenAI's chat message shape (also Ollama's, less the tool ids). */
export function toOpenAIMessage(message: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: message.role, content: message.content ?? null };
  if (message.name !== undefined) out.name = message.name;
  if (message.toolCallId !== undefined) out.tool_call_id = message.toolCallId;
  if (message.toolCalls !== undefined) {
    out.tool_calls = message.toolCalls.map((call, i) => ({ id: call.id ?? `call_${i}`, type: 'function', function: { name: call.function.name, arguments: argumentsText(call.function.arguments) } }));
  }
  return out;
}

/** Anthropic's request: system text apart, the rest as user/assistant turns (tool results as user turns). */
export function toAnthropicMessages(messages: ChatMessage[]): { system: string | undefined; messages: Array<{ role: 'user' | 'assistant'; content: unknown }> } {
  const system: string[] = [];
  const out: Array<{ role: 'user' | 'assistant'; content: unknown }> = [];
  for (const message of messages) {
    if (message.role === 'system') {
      system.push(contentText(message.content));
      continue;
    }
    if (message.role === 'tool') {
      out.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: message.toolCallId ?? '', content: contentText(message.content) }] });
      continue;
    }
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    if (message.toolCalls !== undefined && message.toolCalls.length > 0) {
      const blocks: unknown[] = [];
      const text = contentText(message.content);
      if (text.length > 0) blocks.push({ type: 'text', text });
      message.toolCalls.forEach((call, i) => {
        const args = call.function.arguments;
        blocks.push({ type: 'tool_use', id: call.id ?? `toolu_${i}`, name: call.function.name, input: typeof args === 'string' ? safeJson(args) : args });
      });
      out.push({ role, content: blocks });
      continue;
    }
    out.push({ role, content: contentText(message.content) });
  }
  return { system: system.length > 0 ? system.join('\n\n') : undefined, messages: out };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { arguments: text };
  }
}

/** A vendor's finish reason as modelpool's: 'length' when the token limit ended it, 'stop' for a stop sequence, 'eos' when the model ended its answer. */
export function finishReasonOf(reason: string | null | undefined): FinishReason | undefined {
  switch (reason) {
    case null:
    case undefined:
    case '':
      return undefined;
    case 'length':
    case 'max_tokens':
      return 'length';
    case 'stop_sequence':
      return 'stop';
    default:
      // OpenAI's 'stop' covers both a stop sequence and the end of the answer; Anthropic's 'end_turn', Ollama's 'stop'.
      return 'eos';
  }
}
