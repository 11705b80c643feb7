package inmemlc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/inmem-db/inmem"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/schema"
)

// Event types a ChatHistory appends to its run's event log.
const (
	// EventMessage is a message: {"type": its llms.ChatMessageType,
	// "message": the message as JSON}.
	EventMessage = "chat.message"
	// EventClear marks where Clear or SetMessages started the history
	// anew; the messages before it stay in the log.
	EventClear = "chat.clear"
)

// ChatHistory is a langchaingo schema.ChatMessageHistory over a run's
// event log; other events of the run are left alone.
type ChatHistory struct{ run *inmem.Run }

var _ schema.ChatMessageHistory = (*ChatHistory)(nil)

// NewChatHistory returns the chat history kept in run's event log.
func NewChatHistory(run *inmem.Run) *ChatHistory { return &ChatHistory{run: run} }

// record is an EventMessage's payload.
type record struct {
	Type    llms.ChatMessageType `json:"type"`
	Message json.RawMessage      `json:"message"`
}

// AddMessage appends m.
func (h *ChatHistory) AddMessage(ctx context.Context, m llms.ChatMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := encodeMessage(m)
	if err != nil {
		return err
	}
	if _, err := h.run.Events().Append(EventMessage, p); err != nil {
		return fmt.Errorf("chat history: %w", err)
	}
	return nil
}

// AddUserMessage appends a human message.
func (h *ChatHistory) AddUserMessage(ctx context.Context, text string) error {
	return h.AddMessage(ctx, llms.HumanChatMessage{Content: text})
}

// AddAIMessage appends an AI message.
func (h *ChatHistory) AddAIMessage(ctx context.Context, text string) error {
	return h.AddMessage(ctx, llms.AIChatMessage{Content: text})
}

// Clear starts the history anew: it appends an EventClear marker, and
// the messages before it stay in the log.
func (h *ChatHistory) Clear(ctx context.Context) error {
	return h.SetMessages(ctx, nil)
}

// SetMessages replaces the history's messages with ms: a marker and ms,
// appended in one transaction.
func (h *ChatHistory) SetMessages(ctx context.Context, ms []llms.ChatMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	payloads := make([][]byte, len(ms))
	for i, m := range ms {
		p, err := encodeMessage(m)
		if err != nil {
			return err
		}
		payloads[i] = p
	}
	err := h.run.Update(func(tx *inmem.Tx) error {
		ev := tx.Events()
		if _, err := ev.Append(EventClear, nil); err != nil {
			return err
		}
		for _, p := range payloads {
			if _, err := ev.Append(EventMessage, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("chat history: %w", err)
	}
	return nil
}

// Messages returns the messages added since the last Clear or
// SetMessages marker, oldest first.
func (h *ChatHistory) Messages(ctx context.Context) ([]llms.ChatMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []llms.ChatMessage
	err := h.run.View(func(tx *inmem.Tx) error {
		ev := tx.Events()
		n, err := ev.Len()
		if err != nil {
			return err
		}
		es, err := ev.Range(0, n)
		if err != nil {
			return err
		}
		for _, e := range es {
			switch e.Type {
			case EventClear:
				out = out[:0]
			case EventMessage:
				m, err := decodeMessage(e.Payload)
				if err != nil {
					return fmt.Errorf("event %d: %w", e.Seq, err)
				}
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chat history: %w", err)
	}
	return out, nil
}

// encodeMessage is an EventMessage's payload for m. Messages of a type
// langchaingo does not define are kept as generic ones, their type as the
// role.
func encodeMessage(m llms.ChatMessage) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("chat history: nil message: %w", inmem.ErrInvalidArgument)
	}
	switch m.(type) {
	case llms.AIChatMessage, llms.HumanChatMessage, llms.SystemChatMessage,
		llms.GenericChatMessage, llms.FunctionChatMessage, llms.ToolChatMessage:
	default:
		g := llms.GenericChatMessage{Content: m.GetContent(), Role: string(m.GetType())}
		if n, ok := m.(llms.Named); ok {
			g.Name = n.GetName()
		}
		m = g
	}
	var v any = m
	if ai, ok := m.(llms.AIChatMessage); ok {
		v = aiRecordOf(ai)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("chat history: %v: %w", err, inmem.ErrInvalidArgument)
	}
	return json.Marshal(record{Type: m.GetType(), Message: b})
}

// decoders decode a message of each type langchaingo defines.
var decoders = map[llms.ChatMessageType]func([]byte) (llms.ChatMessage, error){
	llms.ChatMessageTypeAI:       decodeAI,
	llms.ChatMessageTypeHuman:    decodeAs[llms.HumanChatMessage],
	llms.ChatMessageTypeSystem:   decodeAs[llms.SystemChatMessage],
	llms.ChatMessageTypeGeneric:  decodeAs[llms.GenericChatMessage],
	llms.ChatMessageTypeFunction: decodeAs[llms.FunctionChatMessage],
	llms.ChatMessageTypeTool:     decodeAs[llms.ToolChatMessage],
}

func decodeAs[T llms.ChatMessage](b []byte) (llms.ChatMessage, error) {
	var m T
	err := json.Unmarshal(b, &m)
	return m, err
}

// decodeMessage reads an EventMessage's payload.
func decodeMessage(p []byte) (llms.ChatMessage, error) {
	var r record
	if err := json.Unmarshal(p, &r); err != nil {
		return nil, fmt.Errorf("chat message: %v: %w", err, inmem.ErrCorruption)
	}
	dec, ok := decoders[r.Type]
	if !ok {
		return nil, fmt.Errorf("chat message of type %q: %w", r.Type, inmem.ErrCorruption)
	}
	m, err := dec(r.Message)
	if err != nil {
		return nil, fmt.Errorf("chat message: %v: %w", err, inmem.ErrCorruption)
	}
	return m, nil
}

// aiRecord is an AI message as kept: llms.ToolCall's own JSON methods do
// not read back what they write (the function call comes back empty), so
// its fields are copied into toolCall.
type aiRecord struct {
	Content          string             `json:"content,omitempty"`
	FunctionCall     *llms.FunctionCall `json:"function_call,omitempty"`
	ToolCalls        []toolCall         `json:"tool_calls,omitempty"`
	ReasoningContent string             `json:"reasoning_content,omitempty"`
}

type toolCall struct {
	ID           string             `json:"id"`
	Type         string             `json:"type"`
	FunctionCall *llms.FunctionCall `json:"function,omitempty"`
}

func aiRecordOf(m llms.AIChatMessage) aiRecord {
	r := aiRecord{Content: m.Content, FunctionCall: m.FunctionCall, ReasoningContent: m.ReasoningContent}
	for _, tc := range m.ToolCalls {
		r.ToolCalls = append(r.ToolCalls, toolCall{ID: tc.ID, Type: tc.Type, FunctionCall: tc.FunctionCall})
	}
	return r
}

func decodeAI(b []byte) (llms.ChatMessage, error) {
	var r aiRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	m := llms.AIChatMessage{Content: r.Content, FunctionCall: r.FunctionCall, ReasoningContent: r.ReasoningContent}
	for _, tc := range r.ToolCalls {
		m.ToolCalls = append(m.ToolCalls, llms.ToolCall{ID: tc.ID, Type: tc.Type, FunctionCall: tc.FunctionCall})
	}
	return m, nil
}
