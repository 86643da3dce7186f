// What the normalizer says for what LLMs and people write, per language: the
// table is the specification (each row reviewed by a speaker's reading, not
// copied from the output).
#include "text/text_normalizer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "text/text_chunker.h"

namespace supertonic {
namespace {

struct Case {
  const char* lang;
  const char* written;
  const char* spoken;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
    {"en", "I have 25 apples.", "I have twenty-five apples."},
    {"en", "It costs $5.50.", "It costs five dollars and fifty cents."},
    {"en", "It costs $1.", "It costs one dollar."},
    {"en", "Only $0.99!", "Only ninety-nine cents!"},
    {"en", "£1.50 each", "one pound and fifty pence each"},
    {"en", "€20", "twenty euros"},
    {"en", "5 USD", "five dollars"},
    {"en", "$1.5 million", "one point five million dollars"},
    {"en", "a $3B deal", "a three billion dollars deal"},
    {"en", "1,250 people", "one thousand two hundred fifty people"},
    {"en", "pi is 3.14", "pi is three point one four"},
    {"en", "-5 degrees", "minus five degrees"},
    {"en", "12% off", "twelve percent off"},
    {"en", "12.5%", "twelve point five percent"},
    {"en", "at 3:30 PM", "at three thirty p.m."},
    {"en", "10:05", "ten oh five"},
    {"en", "12:00", "twelve o'clock"},
    {"en", "at 7am", "at seven a.m."},
    {"en", "15:30", "fifteen thirty"},
    {"en", "on 2024-03-15", "on March fifteenth, twenty twenty-four"},
    {"en", "03/04/2024", "March fourth, twenty twenty-four"},
    {"en", "the 21st time", "the twenty-first time"},
    {"en", "2nd place", "second place"},
    {"en", "in 1999", "in nineteen ninety-nine"},
    {"en", "the 1990s", "the nineteen nineties"},
    {"en", "10-12 km", "ten to twelve kilometers"},
    {"en", "25°C", "twenty-five degrees Celsius"},
    {"en", "5 kg", "five kilograms"},
    {"en", "1 km", "one kilometer"},
    {"en", "100 km/h", "one hundred kilometers per hour"},
    {"en", "Call 555-123-4567.", "Call five five five, one two three, four five six seven."},
    {"en", "+1 (555) 123-4567", "plus one, five five five, one two three, four five six seven"},
    {"en", "mail john.doe@gmail.com", "mail john dot doe at gmail dot com"},
    {"en", "see https://www.example.com/docs.", "see example dot com."},
    {"en", "visit openai.com today", "visit openai dot com today"},
    {"en", "Dr. Smith", "Doctor Smith"},
    {"en", "No. 5", "number five"},
    {"en", "e.g. apples", "for example apples"},
    {"en", "A&B", "A and B"},
    {"en", "**Important:** read *this*", "Important: read this"},
    {"en", "# Heading", "Heading."},
    {"en", "- item one", "item one."},
    {"en", "Use `make run`.", "Use make run."},
    {"en", "[docs](https://x.io)", "docs"},
    {"en", "007", "zero zero seven"},
    {"en", "mp3", "mp three"},
    {"en", "100,000", "one hundred thousand"},
    {"en", "½ cup", "one half cup"},
    {"en", "due 15/03/2024", "due March fifteenth, twenty twenty-four"},
    {"en", "at 10:30:15", "at ten thirty and fifteen seconds"},
    {"pt", "Tenho 25 anos.", "Tenho vinte e cinco anos."},
    {"pt", "Custa R$ 3,50.", "Custa três reais e cinquenta centavos."},
    {"pt", "3,50 €", "três euros e cinquenta centavos"},
    {"pt", "R$ 1,00", "um real"},
    {"pt", "US$ 2 milhões", "dois milhões de dólares"},
    {"pt", "1.250 pessoas", "mil duzentos e cinquenta pessoas"},
    {"pt", "3,14", "três vírgula catorze"},
    {"pt", "-5 graus", "menos cinco graus"},
    {"pt", "12%", "doze por cento"},
    {"pt", "às 15h30", "às quinze e trinta"},
    {"pt", "15:30", "quinze e trinta"},
    {"pt", "às 3:30 PM", "às três e trinta da tarde"},
    {"pt", "12:00", "doze horas"},
    {"pt", "15/03/2024", "quinze de março de dois mil e vinte e quatro"},
    {"pt", "2024-03-15", "quinze de março de dois mil e vinte e quatro"},
    {"pt", "o 2º lugar", "o segundo lugar"},
    {"pt", "a 1ª vez", "a primeira vez"},
    {"pt", "1º de maio", "primeiro de maio"},
    {"pt", "em 1999", "em mil novecentos e noventa e nove"},
    {"pt", "10-12 km", "dez a doze quilômetros"},
    {"pt", "25°C", "vinte e cinco graus Celsius"},
    {"pt", "2 h", "duas horas"},
    {"pt", "1 h", "uma hora"},
    {"pt", "5 kg", "cinco quilos"},
    {"pt", "2,5 kg", "dois vírgula cinco quilos"},
    {"pt", "ligue (11) 98765-4321", "ligue um um, nove oito sete seis cinco, quatro três dois um"},
    {"pt", "joao@exemplo.com.br", "joao arroba exemplo ponto com ponto br"},
    {"pt", "Sra. Silva", "Senhora Silva"},
    {"pt", "Dr. Souza", "Doutor Souza"},
    {"pt", "nº 5", "número cinco"},
    {"pt", "A&B", "A e B"},
    {"pt", "**Importante:** leia", "Importante: leia"},
    {"pt", "- item um", "item um."},
    {"pt", "1.000.000 de pessoas", "um milhão de pessoas"},
    {"pt", "£2", "duas libras"},
    {"es", "Tengo 21 años.", "Tengo veintiún años."},
    {"es", "Cuesta 21 dólares.", "Cuesta veintiún dólares."},
    {"es", "$1", "un dólar"},
    {"es", "5,50 €", "cinco euros con cincuenta céntimos"},
    {"es", "1.000.000", "un millón"},
    {"es", "3,5 kg", "tres coma cinco kilos"},
    {"es", "el 1er día", "el primer día"},
    {"es", "la 1ª vez", "la primera vez"},
    {"es", "el 3º", "el tercero"},
    {"es", "15:30", "quince y treinta"},
    {"es", "15:00", "quince en punto"},
    {"es", "3:30 PM", "tres y treinta de la tarde"},
    {"es", "15/03/2024", "quince de marzo de dos mil veinticuatro"},
    {"es", "2024-03-15", "quince de marzo de dos mil veinticuatro"},
    {"es", "-5 grados", "menos cinco grados"},
    {"es", "12%", "doce por ciento"},
    {"es", "10-12 km", "diez a doce kilómetros"},
    {"es", "25°C", "veinticinco grados Celsius"},
    {"es", "1 km", "un kilómetro"},
    {"es", "21 km", "veintiún kilómetros"},
    {"es", "Sr. García", "señor García"},
    {"es", "Ud. tiene", "usted tiene"},
    {"es", "p. ej. esto", "por ejemplo esto"},
    {"es", "nº 5", "número cinco"},
    {"es", "correo ana@correo.es", "correo ana arroba correo punto es"},
    {"es", "llama al 555-123-4567", "llama al cinco cinco cinco, uno dos tres, cuatro cinco seis siete"},
    {"es", "£2", "dos libras"},
    {"es", "1 h", "una hora"},
    {"es", "en 1999", "en mil novecientos noventa y nueve"},
    {"es", "**Nota:** sí", "Nota: sí"},
    {"es", "0,5", "cero coma cinco"},
    {"fr", "Le 1er mars", "Le premier mars"},
    {"fr", "la 1re fois", "la première fois"},
    {"fr", "le 2e étage", "le deuxième étage"},
    {"fr", "3,50 €", "trois euros et cinquante centimes"},
    {"fr", "1 €", "un euro"},
    {"fr", "1,5 kg", "un virgule cinq kilo"},
    {"fr", "2,5 kg", "deux virgule cinq kilos"},
    {"fr", "15h30", "quinze heures trente"},
    {"fr", "15h00", "quinze heures"},
    {"fr", "15:30", "quinze heures trente"},
    {"fr", "80 km", "quatre-vingts kilomètres"},
    {"fr", "-5 degrés", "moins cinq degrés"},
    {"fr", "12%", "douze pour cent"},
    {"fr", "15/03/2024", "quinze mars deux mille vingt-quatre"},
    {"fr", "2024-03-15", "quinze mars deux mille vingt-quatre"},
    {"fr", "10-12 km", "dix à douze kilomètres"},
    {"fr", "25°C", "vingt-cinq degrés Celsius"},
    {"fr", "M. Dupont", "Monsieur Dupont"},
    {"fr", "Mme Martin", "Madame Martin"},
    {"fr", "n° 5", "numéro cinq"},
    {"fr", "1 000 euros", "mille euros"},
    {"fr", "01 23 45 67 89", "zéro un, deux trois, quatre cinq, six sept, huit neuf"},
    {"fr", "écrire à marie@site.fr", "écrire à marie arobase site point fr"},
    {"fr", "71 ans", "soixante-et-onze ans"},
    {"fr", "1 h", "une heure"},
    {"fr", "3,14", "trois virgule quatorze"},
    {"fr", "A&B", "A et B"},
    {"fr", "en 1999", "en mille neuf cent quatre-vingt-dix-neuf"},
    {"fr", "$5", "cinq dollars"},
    {"fr", "# Titre", "Titre."},
    {"ko", "사과 3개", "사과 세 개"},
    {"ko", "25살", "스물다섯 살"},
    {"ko", "5,000원", "오천 원"},
    {"ko", "3시 30분", "세 시 삼십분"},
    {"ko", "15:30", "열다섯 시 삼십 분"},
    {"ko", "2024년 6월 15일", "이천이십사년 유월 십오일"},
    {"ko", "10월", "시월"},
    {"ko", "2024-03-15", "이천이십사 년 삼월 십오 일"},
    {"ko", "010-1234-5678", "공 일 공, 일 이 삼 사, 오 육 칠 팔"},
    {"ko", "$5.50", "오 달러 오십 센트"},
    {"ko", "12%", "십이 퍼센트"},
    {"ko", "3.5%", "삼점오 퍼센트"},
    {"ko", "1번째", "첫 번째"},
    {"ko", "2번째", "두 번째"},
    {"ko", "학생 20명", "학생 스무 명"},
    {"ko", "3시간", "세 시간"},
    {"ko", "25°C", "섭씨 이십오 도"},
    {"ko", "10-12 km", "십에서 십이 킬로미터"},
    {"ko", "1,250명", "천이백오십 명"},
    {"ko", "100명", "백 명"},
    {"ko", "3.14", "삼점일사"},
    {"ko", "오후 3:30", "오후 세 시 삼십 분"},
    {"ko", "3:30 PM", "오후 세 시 삼십 분"},
    {"ko", "5 kg", "오 킬로그램"},
    {"ko", "10~12", "십에서 십이"},
    {"ko", "3개를", "세 개를"},
    {"ko", "2마리", "두 마리"},
    {"ko", "abc@naver.com", "abc 골뱅이 naver 점 com"},
    {"ko", "**중요:** 읽어", "중요: 읽어"},
    {"ko", "1억 원", "일억 원"},
    {"ko", "€20", "이십 유로"},
  };
  return cases;
}

const TextNormalizer& Normalizer() {
  static const TextNormalizer normalizer;
  return normalizer;
}

class NormalizationTable : public ::testing::TestWithParam<Case> {};

TEST_P(NormalizationTable, SaysWhatTheTextMeans) {
  const Case& c = GetParam();
  EXPECT_EQ(Normalizer().Normalize(c.written, c.lang), c.spoken) << c.lang << ": " << c.written;
}

INSTANTIATE_TEST_SUITE_P(EveryLanguage, NormalizationTable, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.lang) + "_" + std::to_string(info.index);
                         });

TEST(TextNormalizer, EveryWrittenTableHasAtLeastThirtyCases) {
  std::map<std::string, int> per_language;
  for (const Case& c : Cases()) ++per_language[c.lang];
  for (const char* lang : {"en", "pt", "es", "fr", "ko"}) EXPECT_GE(per_language[lang], 30) << lang;
}

TEST(TextNormalizer, PlainWordsAndExpressionTagsAreLeftAsWritten) {
  for (const char* lang : {"en", "pt", "es", "fr", "ko", "de"}) {
    EXPECT_EQ(Normalizer().Normalize("Hello there, how are you today?", lang), "Hello there, how are you today?");
    EXPECT_EQ(Normalizer().Normalize("So funny <laugh> really", lang), "So funny <laugh> really");
  }
}

TEST(TextNormalizer, LanguagesWithoutATableGetIcuNumbersUnitsAndCurrencies) {
  EXPECT_EQ(Normalizer().Normalize("1.250 km bei 25 °C", "de"),
            "eintausendzweihundertfünfzig Kilometer bei fünfundzwanzig Grad Celsius");
  EXPECT_EQ(Normalizer().Normalize("12%", "de"), "zwölf Prozent");
  EXPECT_EQ(Normalizer().Normalize("Das kostet 3,50 €.", "de"), "Das kostet drei Komma fünfzig Euro.");
  EXPECT_EQ(Normalizer().Normalize("am 15.03.2024", "de"), "am fünfzehn März zweitausendvierundzwanzig");
  EXPECT_EQ(Normalizer().Normalize("-5", "de"), "minus fünf");
  EXPECT_EQ(Normalizer().Normalize("3,000円", "ja"), "三千円");
  EXPECT_EQ(Normalizer().Normalize("12 km", "ja"), "十二 キロメートル");
  // ICU's plural categories: Russian says "one", "few" and "many" apart.
  EXPECT_EQ(Normalizer().Normalize("1 km, 3 km, 5 km, 21 km", "ru"),
            "один километр, три километра, пять километров, двадцать один километр");
  EXPECT_EQ(Normalizer().Normalize("3,5 km", "ru"), "три целых пять десятых километра");
  // Text of no known language: numbers as written, markdown removed.
  EXPECT_EQ(Normalizer().Normalize("**Total:** 12 km", "na"), "Total: 12 km");
}

TEST(TextNormalizer, LanguageRulesDoNotLeakAcrossLanguages) {
  // The separators: one thousand two hundred fifty, or one point two five.
  EXPECT_EQ(Normalizer().Normalize("1.250", "pt"), "mil duzentos e cinquenta");
  EXPECT_EQ(Normalizer().Normalize("1.250", "en"), "one point two five zero");
  EXPECT_EQ(Normalizer().Normalize("1,250", "en"), "one thousand two hundred fifty");
  EXPECT_EQ(Normalizer().Normalize("1,250", "pt"), "um vírgula dois cinco zero");
  // The reference's English replacement of "@" is not applied to Portuguese.
  EXPECT_EQ(Normalizer().Normalize("a @ b", "pt"), "a arroba b");
  EXPECT_EQ(Normalizer().Normalize("e.g. isto", "pt"), "por exemplo isto");
}

TEST(TextNormalizer, MarkdownListsTablesAndCodeBecomePhrases) {
  const std::string text =
      "## Plan\n- first item\n* second item\n1) Buy milk\n> quoted\n---\n| a | b |\n|---|---|\n| c | d |\n"
      "```python\nprint()\n```\n![a cat](cat.png) and ~~old~~ new __bold__ _it_";
  EXPECT_EQ(Normalizer().Normalize(text, "en"),
            "Plan.\nfirst item.\nsecond item.\none. Buy milk.\nquoted\n\na, b.\n\nc, d.\n\nprint()\n\n"
            "a cat and old new bold it");
}

TEST(TextNormalizer, InvalidUtf8PassesThroughForThePreprocessorToDrop) {
  const std::string bad = "costs $5 \xFF\xC3 now";
  const std::string out = Normalizer().Normalize(bad, "en");
  EXPECT_NE(out.find("five dollars"), std::string::npos) << out;
  EXPECT_NE(out.find("\xFF"), std::string::npos);
}

TEST(TextNormalizer, HugeAndHostileNumbersStayBoundedAndSpelled) {
  const std::string digits(5000, '9');
  const std::string out = Normalizer().Normalize(digits, "en");
  EXPECT_LE(out.size(), TextNormalizer::kMaxExpansion * digits.size());
  EXPECT_EQ(out.find('9'), std::string::npos);
  for (const char* text : {"$$$$$$5", "1.2.3.4.5.6.7.8.9", "--------5", "12:34:56:78", "+++++1", "1,2,3,4,5,6",
                           "99999999999999999999%", "$99999999999999999999.99", "1/2/3/4/5/6/7/8"}) {
    const std::string said = Normalizer().Normalize(text, "fr");
    EXPECT_LE(said.size(), TextNormalizer::kMaxExpansion * std::string(text).size()) << text;
  }
}

TEST(TextChunker, DecimalsAndEveryTablesAbbreviationsDoNotEndASentence) {
  // Short limit: the chunker must cut, and only at real sentence ends.
  const auto chunks = ChunkText("A Sra. Silva pagou R$ 3,50. Depois saiu. O Dr. Souza custa 3.5 mil.", 40);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0], "A Sra. Silva pagou R$ 3,50. Depois saiu.");
  EXPECT_EQ(chunks[1], "O Dr. Souza custa 3.5 mil.");
  // "No." ends a sentence (it is "number" only before a number).
  EXPECT_EQ(ChunkText("I said no. Then left.", 12).size(), 2u);
}

}  // namespace
}  // namespace supertonic
