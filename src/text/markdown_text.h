#pragma once
// Markdown as LLMs write it, made into the text a listener should hear.
#include <string>
#include <string_view>

namespace supertonic {

// Emphasis (**bold**, *italic*, __x__, _x_, ~~x~~) and `code` keep their
// text; [text](url) and ![alt](url) keep text and alt; heading marks, bullets,
// blockquote marks, code fences, rules and table rules go. A heading, a list
// item or a table row that ends without punctuation gets a period so it is
// said as its own phrase; table cells are joined by commas. Numbered items
// keep their number ("1. Buy milk"). Any other '*' is dropped.
std::string StripMarkdown(std::string_view text);

}  // namespace supertonic
