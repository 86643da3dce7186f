#include "text/language_rules.h"

#include <algorithm>
#include <array>
#include <string_view>

// The words of each language. Units and currencies list their written forms;
// a form missing here is left to the model as written.
namespace supertonic {

namespace {

using Kind = NumberSuffix::Kind;

// Units every Latin-script table shares the written forms of.
std::vector<NumberSuffix> Units(std::string_view km, std::string_view kms, std::string_view m, std::string_view ms,
                                std::string_view cm, std::string_view cms, std::string_view mm, std::string_view mms,
                                std::string_view kg, std::string_view kgs, std::string_view g, std::string_view gs,
                                std::string_view l, std::string_view ls, std::string_view ml, std::string_view mls) {
  return {{"km", km, kms},  {"m", m, ms},   {"cm", cm, cms}, {"mm", mm, mms},
          {"kg", kg, kgs},  {"g", g, gs},   {"l", l, ls},    {"L", l, ls},
          {"ml", ml, mls},  {"mL", ml, mls}};
}

void Append(std::vector<NumberSuffix>& to, std::vector<NumberSuffix> more) {
  to.insert(to.end(), more.begin(), more.end());
}

LanguageRules English() {
  LanguageRules r;
  r.lang = "en";
  r.icu_locale = "en_US";
  r.decimal_separator = '.';
  r.grouping_separator = ',';
  r.numbers = {"%spellout-cardinal", "", "%spellout-numbering-year", "%spellout-ordinal", ""};
  r.minus = "minus";
  r.plus = "plus";
  r.range = "{a} to {b}";
  r.at = "at";
  r.dot = "dot";
  r.money_and = "and";
  r.scale_words = {"thousand", "million", "millions", "billion", "billions", "trillion"};
  r.scale_abbreviations = {{"k", "thousand"}, {"K", "thousand"}, {"M", "million"}, {"MM", "million"},
                           {"B", "billion"},  {"bn", "billion"}, {"T", "trillion"}};
  r.suffixes = Units("kilometer", "kilometers", "meter", "meters", "centimeter", "centimeters", "millimeter",
                     "millimeters", "kilogram", "kilograms", "gram", "grams", "liter", "liters", "milliliter",
                     "milliliters");
  Append(r.suffixes, {{"%", "percent", "percent"},
                      {"°C", "degree Celsius", "degrees Celsius"},
                      {"°F", "degree Fahrenheit", "degrees Fahrenheit"},
                      {"°", "degree", "degrees"},
                      {"km/h", "kilometer per hour", "kilometers per hour"},
                      {"mph", "mile per hour", "miles per hour"},
                      {"mi", "mile", "miles"},
                      {"ft", "foot", "feet"},
                      {"lb", "pound", "pounds"},
                      {"lbs", "pound", "pounds"},
                      {"oz", "ounce", "ounces"},
                      {"m²", "square meter", "square meters"},
                      {"km²", "square kilometer", "square kilometers"},
                      {"h", "hour", "hours", "", "", Kind::kUnit},
                      {"hrs", "hour", "hours"},
                      {"min", "minute", "minutes"},
                      {"sec", "second", "seconds"},
                      {"ms", "millisecond", "milliseconds"},
                      {"GB", "gigabyte", "gigabytes"},
                      {"MB", "megabyte", "megabytes"},
                      {"KB", "kilobyte", "kilobytes"},
                      {"TB", "terabyte", "terabytes"},
                      {"kWh", "kilowatt hour", "kilowatt hours"},
                      {"kW", "kilowatt", "kilowatts"},
                      {"W", "watt", "watts", "", "", Kind::kUnit},
                      {"V", "volt", "volts", "", "", Kind::kUnit},
                      {"GHz", "gigahertz", "gigahertz"},
                      {"MHz", "megahertz", "megahertz"},
                      {"Hz", "hertz", "hertz"},
                      {"s", "", "", "%spellout-numbering-year", "", Kind::kPlural, true},
                      {"'s", "", "", "%spellout-numbering-year", "", Kind::kPlural, true},
                      {"st", "", "", "", "", Kind::kOrdinal, true},
                      {"nd", "", "", "", "", Kind::kOrdinal, true},
                      {"rd", "", "", "", "", Kind::kOrdinal, true},
                      {"th", "", "", "", "", Kind::kOrdinal, true}});
  r.currencies = {{{"US$", "$", "USD"}, "dollar", "dollars", "cent", "cents"},
                  {{"R$", "BRL"}, "real", "reais", "centavo", "centavos"},
                  {{"€", "EUR"}, "euro", "euros", "cent", "cents"},
                  {{"£", "GBP"}, "pound", "pounds", "penny", "pence"},
                  {{"¥", "JPY"}, "yen", "yen", "", ""},
                  {{"₩", "KRW"}, "won", "won", "", ""}};
  r.abbreviations = {{"Mr.", "Mister"},        {"Mrs.", "Missus"},      {"Ms.", "Miz"},
                     {"Dr.", "Doctor"},        {"Prof.", "Professor"},  {"Jr.", "Junior"},
                     {"Sr.", "Senior"},        {"vs.", "versus"},       {"etc.", "et cetera"},
                     {"e.g.", "for example"},  {"i.e.", "that is"},     {"approx.", "approximately"},
                     {"No.", "number", true},  {"no.", "number", true}, {"Nos.", "numbers", true},
                     {"Ave.", "Avenue"},       {"Blvd.", "Boulevard"},  {"Dept.", "Department"},
                     {"#", "number", true},    {"Inc.", "Incorporated"}, {"Ltd.", "Limited"},     {"Corp.", "Corporation"}};
  r.symbols = {{"&", "and"}, {"@", "at"}, {"+", "plus"}, {"=", "equals"}, {"½", "one half"}, {"¼", "one quarter"},
               {"¾", "three quarters"}};
  r.time = {.hour_minute = "{h} {m}",
            .hour_minute_below_ten = "{h} oh {m}",
            .on_the_hour = "{h} o'clock",
            .on_the_hour_with_period = "{h}",
            .with_seconds = "{h} {m} and {s} {s|second|seconds}",
            .with_period = "{t} {p}",
            .am = "a.m.",
            .pm = "p.m."};
  r.date = {DateTemplates::Order::kMonthDayYear,
            "{month} {d_ord}, {y}",
            "",
            {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"}};
  r.year_style_for_four_digits = true;
  r.plural_endings = {{"y", "ies"}};
  return r;
}

LanguageRules Portuguese() {
  LanguageRules r;
  r.lang = "pt";
  r.icu_locale = "pt_BR";
  r.decimal_separator = ',';
  r.grouping_separator = '.';
  r.fraction_as_number = true;
  r.numbers = {"%spellout-cardinal-masculine", "%spellout-cardinal-feminine", "%spellout-numbering-year",
               "%spellout-ordinal-masculine", "%spellout-ordinal-feminine"};
  r.minus = "menos";
  r.plus = "mais";
  r.range = "{a} a {b}";
  r.at = "arroba";
  r.dot = "ponto";
  r.money_and = "e";
  r.of_after_scale = "de";
  r.scale_words = {"mil", "milhão", "milhões", "bilhão", "bilhões", "trilhão", "trilhões"};
  r.scale_abbreviations = {{"mi", "milhões"}, {"bi", "bilhões"}, {"tri", "trilhões"}};
  r.suffixes = Units("quilômetro", "quilômetros", "metro", "metros", "centímetro", "centímetros", "milímetro",
                     "milímetros", "quilo", "quilos", "grama", "gramas", "litro", "litros", "mililitro",
                     "mililitros");
  Append(r.suffixes, {{"%", "por cento", "por cento"},
                      {"°C", "grau Celsius", "graus Celsius"},
                      {"ºC", "grau Celsius", "graus Celsius"},
                      {"°F", "grau Fahrenheit", "graus Fahrenheit"},
                      {"km/h", "quilômetro por hora", "quilômetros por hora"},
                      {"m²", "metro quadrado", "metros quadrados"},
                      {"km²", "quilômetro quadrado", "quilômetros quadrados"},
                      {"h", "hora", "horas", "%spellout-cardinal-feminine", "", Kind::kUnit},
                      {"min", "minuto", "minutos"},
                      {"s", "segundo", "segundos", "", "", Kind::kUnit},
                      {"ms", "milissegundo", "milissegundos"},
                      {"GB", "gigabyte", "gigabytes"},
                      {"MB", "megabyte", "megabytes"},
                      {"TB", "terabyte", "terabytes"},
                      {"kWh", "quilowatt-hora", "quilowatts-hora"},
                      {"kW", "quilowatt", "quilowatts"},
                      {"W", "watt", "watts", "", "", Kind::kUnit},
                      {"V", "volt", "volts", "", "", Kind::kUnit},
                      {"º", "", "", "", "", Kind::kOrdinal, true},
                      {".º", "", "", "", "", Kind::kOrdinal, true},
                      {"ª", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {".ª", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {"°", "grau", "graus"}});
  r.currencies = {{{"R$", "BRL"}, "real", "reais", "centavo", "centavos"},
                  {{"US$", "$", "USD"}, "dólar", "dólares", "centavo", "centavos"},
                  {{"€", "EUR"}, "euro", "euros", "centavo", "centavos"},
                  {{"£", "GBP"}, "libra", "libras", "pêni", "pence", true},
                  {{"¥", "JPY"}, "iene", "ienes", "", ""},
                  {{"₩", "KRW"}, "won", "wons", "", ""}};
  r.abbreviations = {{"Sr.", "Senhor"},          {"Sra.", "Senhora"},       {"Srta.", "Senhorita"},
                     {"Dr.", "Doutor"},          {"Dra.", "Doutora"},       {"Prof.", "Professor"},
                     {"Profa.", "Professora"},   {"nº", "número", true},    {"n.º", "número", true},
                     {"Nº", "número", true},     {"pág.", "página", true},  {"págs.", "páginas", true},
                     {"Av.", "Avenida"},         {"tel.", "telefone"},      {"etc.", "etcétera"},
                     {"p. ex.", "por exemplo"},  {"ex.:", "exemplo:"},      {"e.g.", "por exemplo"},
                     {"i.e.", "isto é"},         {"vs.", "versus"},         {"aprox.", "aproximadamente"},
                     {"Ltda.", "Limitada"},      {"S.A.", "Sociedade Anônima"}};
  r.symbols = {{"&", "e"}, {"@", "arroba"}, {"+", "mais"}, {"=", "igual a"}, {"½", "meio"}, {"¼", "um quarto"},
               {"¾", "três quartos"}};
  r.time = {.hour_minute = "{h} e {m}",
            .on_the_hour = "{h} {h|hora|horas}",
            .with_seconds = "{h} {h|hora|horas}, {m} {m|minuto|minutos} e {s} {s|segundo|segundos}",
            .with_period = "{t} {p}",
            .am = "da manhã",
            .pm = "da tarde",
            .hour_feminine = true};
  r.date = {DateTemplates::Order::kDayMonthYear,
            "{d} de {month} de {y}",
            "primeiro",
            {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
             "novembro", "dezembro"}};
  return r;
}

LanguageRules Spanish() {
  LanguageRules r;
  r.lang = "es";
  r.icu_locale = "es_ES";
  r.decimal_separator = ',';
  r.grouping_separator = '.';
  r.fraction_as_number = true;
  r.numbers = {"%spellout-cardinal-masculine", "%spellout-cardinal-feminine", "%spellout-numbering-year",
               "%spellout-ordinal-masculine", "%spellout-ordinal-feminine"};
  r.before_noun = {{"veintiuno", "veintiún"}, {"uno", "un"}};
  r.minus = "menos";
  r.plus = "más";
  r.range = "{a} a {b}";
  r.at = "arroba";
  r.dot = "punto";
  r.money_and = "con";
  r.of_after_scale = "de";
  r.scale_words = {"mil", "millón", "millones", "billón", "billones"};
  r.scale_abbreviations = {{"M", "millones"}};
  r.suffixes = Units("kilómetro", "kilómetros", "metro", "metros", "centímetro", "centímetros", "milímetro",
                     "milímetros", "kilo", "kilos", "gramo", "gramos", "litro", "litros", "mililitro",
                     "mililitros");
  Append(r.suffixes, {{"%", "por ciento", "por ciento"},
                      {"°C", "grado Celsius", "grados Celsius"},
                      {"ºC", "grado Celsius", "grados Celsius"},
                      {"°F", "grado Fahrenheit", "grados Fahrenheit"},
                      {"km/h", "kilómetro por hora", "kilómetros por hora"},
                      {"m²", "metro cuadrado", "metros cuadrados"},
                      {"km²", "kilómetro cuadrado", "kilómetros cuadrados"},
                      {"h", "hora", "horas", "%spellout-cardinal-feminine", "", Kind::kUnit},
                      {"min", "minuto", "minutos"},
                      {"s", "segundo", "segundos", "", "", Kind::kUnit},
                      {"ms", "milisegundo", "milisegundos"},
                      {"GB", "gigabyte", "gigabytes"},
                      {"MB", "megabyte", "megabytes"},
                      {"TB", "terabyte", "terabytes"},
                      {"kWh", "kilovatio hora", "kilovatios hora"},
                      {"kW", "kilovatio", "kilovatios"},
                      {"W", "vatio", "vatios", "", "", Kind::kUnit},
                      {"V", "voltio", "voltios", "", "", Kind::kUnit},
                      {"º", "", "", "", "", Kind::kOrdinal, true},
                      {".º", "", "", "", "", Kind::kOrdinal, true},
                      {"ª", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {".ª", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {"er", "", "", "%spellout-ordinal-masculine-adjective", "", Kind::kOrdinal, true},
                      {"ra", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {"°", "grado", "grados"}});
  r.currencies = {{{"US$", "$", "USD"}, "dólar", "dólares", "centavo", "centavos"},
                  {{"€", "EUR"}, "euro", "euros", "céntimo", "céntimos"},
                  {{"R$", "BRL"}, "real", "reales", "centavo", "centavos"},
                  {{"£", "GBP"}, "libra", "libras", "penique", "peniques", true},
                  {{"¥", "JPY"}, "yen", "yenes", "", ""},
                  {{"₩", "KRW"}, "won", "wones", "", ""}};
  r.abbreviations = {{"Sr.", "señor"},         {"Sra.", "señora"},        {"Srta.", "señorita"},
                     {"Dr.", "doctor"},        {"Dra.", "doctora"},       {"Ud.", "usted"},
                     {"Uds.", "ustedes"},      {"Prof.", "profesor"},     {"nº", "número", true},
                     {"n.º", "número", true},  {"Nº", "número", true},    {"pág.", "página", true},
                     {"Av.", "avenida"},       {"etc.", "etcétera"},      {"p. ej.", "por ejemplo"},
                     {"e.g.", "por ejemplo"},  {"i.e.", "es decir"},      {"vs.", "contra"},
                     {"aprox.", "aproximadamente"}, {"S.A.", "sociedad anónima"}};
  r.symbols = {{"&", "y"}, {"@", "arroba"}, {"+", "más"}, {"=", "igual a"}, {"½", "medio"}, {"¼", "un cuarto"},
               {"¾", "tres cuartos"}};
  r.time = {.hour_minute = "{h} y {m}",
            .on_the_hour = "{h} en punto",
            .on_the_hour_with_period = "{h}",
            .with_seconds = "{h} {h|hora|horas}, {m} {m|minuto|minutos} y {s} {s|segundo|segundos}",
            .with_period = "{t} {p}",
            .am = "de la mañana",
            .pm = "de la tarde",
            .hour_feminine = true};
  r.date = {DateTemplates::Order::kDayMonthYear,
            "{d} de {month} de {y}",
            "primero",
            {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre"}};
  return r;
}

LanguageRules French() {
  LanguageRules r;
  r.lang = "fr";
  r.icu_locale = "fr_FR";
  r.decimal_separator = ',';
  r.grouping_separator = '.';
  r.fraction_as_number = true;
  r.numbers = {"%spellout-cardinal-masculine", "%spellout-cardinal-feminine", "%spellout-numbering-year",
               "%spellout-ordinal-masculine", "%spellout-ordinal-feminine"};
  r.singular_below = 2;
  r.minus = "moins";
  r.plus = "plus";
  r.range = "{a} à {b}";
  r.at = "arobase";
  r.dot = "point";
  r.money_and = "et";
  r.of_after_scale = "de";
  r.scale_words = {"mille", "million", "millions", "milliard", "milliards"};
  r.scale_abbreviations = {{"M", "millions"}, {"Md", "milliards"}, {"k", "mille"}};
  r.suffixes = Units("kilomètre", "kilomètres", "mètre", "mètres", "centimètre", "centimètres", "millimètre",
                     "millimètres", "kilo", "kilos", "gramme", "grammes", "litre", "litres", "millilitre",
                     "millilitres");
  Append(r.suffixes, {{"%", "pour cent", "pour cent"},
                      {"°C", "degré Celsius", "degrés Celsius"},
                      {"°F", "degré Fahrenheit", "degrés Fahrenheit"},
                      {"°", "degré", "degrés"},
                      {"km/h", "kilomètre par heure", "kilomètres par heure"},
                      {"m²", "mètre carré", "mètres carrés"},
                      {"km²", "kilomètre carré", "kilomètres carrés"},
                      {"h", "heure", "heures", "%spellout-cardinal-feminine", "", Kind::kUnit},
                      {"min", "minute", "minutes", "%spellout-cardinal-feminine"},
                      {"s", "seconde", "secondes", "%spellout-cardinal-feminine", "", Kind::kUnit},
                      {"ms", "milliseconde", "millisecondes", "%spellout-cardinal-feminine"},
                      {"Go", "gigaoctet", "gigaoctets"},
                      {"Mo", "mégaoctet", "mégaoctets"},
                      {"GB", "gigaoctet", "gigaoctets"},
                      {"kWh", "kilowattheure", "kilowattheures"},
                      {"kW", "kilowatt", "kilowatts"},
                      {"W", "watt", "watts", "", "", Kind::kUnit},
                      {"V", "volt", "volts", "", "", Kind::kUnit},
                      {"er", "", "", "", "", Kind::kOrdinal, true},
                      {"re", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {"ère", "", "", "%spellout-ordinal-feminine", "", Kind::kOrdinal, true},
                      {"e", "", "", "", "", Kind::kOrdinal, true},
                      {"è", "", "", "", "", Kind::kOrdinal, true},
                      {"ème", "", "", "", "", Kind::kOrdinal, true},
                      {"eme", "", "", "", "", Kind::kOrdinal, true}});
  r.currencies = {{{"€", "EUR"}, "euro", "euros", "centime", "centimes"},
                  {{"US$", "$", "USD"}, "dollar", "dollars", "cent", "cents"},
                  {{"R$", "BRL"}, "réal", "réaux", "centavo", "centavos"},
                  {{"£", "GBP"}, "livre", "livres", "penny", "pence", true},
                  {{"¥", "JPY"}, "yen", "yens", "", ""},
                  {{"₩", "KRW"}, "won", "wons", "", ""},
                  {{"CHF"}, "franc suisse", "francs suisses", "centime", "centimes"}};
  r.abbreviations = {{"M.", "Monsieur"},         {"MM.", "Messieurs"},       {"Mme", "Madame"},
                     {"Mmes", "Mesdames"},       {"Mlle", "Mademoiselle"},   {"Dr", "Docteur"},
                     {"Dr.", "Docteur"},         {"Pr", "Professeur"},       {"n°", "numéro", true},
                     {"nº", "numéro", true},     {"N°", "numéro", true},     {"p.", "page", true},
                     {"etc.", "et cetera"},      {"p. ex.", "par exemple"},  {"c.-à-d.", "c'est-à-dire"},
                     {"e.g.", "par exemple"},    {"i.e.", "c'est-à-dire"},   {"env.", "environ"},
                     {"av.", "avenue"},          {"bd", "boulevard"},        {"vs", "contre"},
                     {"vs.", "contre"}};
  r.symbols = {{"&", "et"}, {"@", "arobase"}, {"+", "plus"}, {"=", "égale"}, {"½", "un demi"}, {"¼", "un quart"},
               {"¾", "trois quarts"}};
  r.time = {.hour_minute = "{h} {h|heure|heures} {m}",
            .on_the_hour = "{h} {h|heure|heures}",
            .with_seconds = "{h} {h|heure|heures} {m} et {s} {s|seconde|secondes}",
            .with_period = "{t} {p}",
            .am = "du matin",
            .pm = "de l'après-midi",
            .hour_feminine = true};
  r.date = {DateTemplates::Order::kDayMonthYear,
            "{d} {month} {y}",
            "premier",
            {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"}};
  return r;
}

LanguageRules Korean() {
  LanguageRules r;
  r.lang = "ko";
  r.icu_locale = "ko_KR";
  r.decimal_separator = '.';
  r.grouping_separator = ',';
  // Sino-Korean by default (money, minutes, years, dates); native numbers
  // with the counters below.
  r.numbers = {"%spellout-cardinal-sinokorean", "", "%spellout-cardinal-sinokorean", "%spellout-ordinal-sinokorean",
               ""};
  r.minus = "마이너스";
  r.plus = "플러스";
  r.range = "{a}에서 {b}";
  r.fraction_digit_separator = "";
  r.suffix_rule_sets_below = 100;
  r.at = "골뱅이";
  r.dot = "점";
  r.scale_words = {"만", "억", "조", "천"};
  r.phone_zero = "공";
  constexpr std::string_view kNative = "%spellout-cardinal-native-attributive";
  for (std::string_view counter : {"개", "명", "살", "시간", "시", "마리", "잔", "권", "벌", "대", "그루", "송이",
                                   "켤레", "가지", "군데", "번", "달", "채", "척", "사람"}) {
    r.suffixes.push_back({counter, counter, counter, kNative, "", Kind::kUnit, false, true});
  }
  r.suffixes.push_back({"번째", "", "", "%spellout-ordinal-native-count", "", Kind::kOrdinal, true, true});
  r.suffixes.push_back({"개월", "개월", "개월", "", "", Kind::kUnit, false, true});
  r.suffixes.push_back({"월", "", "", "", "", Kind::kMonth, true, true});
  Append(r.suffixes, {{"%", "퍼센트", "퍼센트"},
                      {"°C", "도", "도", "", "섭씨"},
                      {"°F", "도", "도", "", "화씨"},
                      {"°", "도", "도"},
                      {"km/h", "킬로미터 퍼 아워", "킬로미터 퍼 아워"},
                      {"km", "킬로미터", "킬로미터"},
                      {"m", "미터", "미터"},
                      {"cm", "센티미터", "센티미터"},
                      {"mm", "밀리미터", "밀리미터"},
                      {"kg", "킬로그램", "킬로그램"},
                      {"g", "그램", "그램"},
                      {"l", "리터", "리터"},
                      {"L", "리터", "리터"},
                      {"ml", "밀리리터", "밀리리터"},
                      {"m²", "제곱미터", "제곱미터"},
                      {"GB", "기가바이트", "기가바이트"},
                      {"MB", "메가바이트", "메가바이트"},
                      {"kWh", "킬로와트시", "킬로와트시"},
                      {"W", "와트", "와트"}});
  r.currencies = {{{"₩", "KRW", "원"}, "원", "원", "", ""},
                  {{"US$", "$", "USD", "달러"}, "달러", "달러", "센트", "센트"},
                  {{"€", "EUR", "유로"}, "유로", "유로", "센트", "센트"},
                  {{"£", "GBP"}, "파운드", "파운드", "펜스", "펜스"},
                  {{"¥", "JPY", "엔"}, "엔", "엔", "", ""},
                  {{"R$", "BRL"}, "헤알", "헤알", "", ""}};
  r.abbreviations = {{"e.g.", "예를 들어"}, {"vs", "대"}, {"vs.", "대"}};
  r.symbols = {{"&", "앤드"}, {"@", "골뱅이"}, {"+", "플러스"}, {"=", "는"}, {"½", "이분의 일"}, {"¼", "사분의 일"},
               {"¾", "사분의 삼"}};
  r.time = {.hour_minute = "{h} 시 {m} 분",
            .on_the_hour = "{h} 시",
            .with_seconds = "{h} 시 {m} 분 {s} 초",
            .with_period = "{p} {t}",
            .am = "오전",
            .pm = "오후",
            .hour_rule_set = kNative};
  // 6월 and 10월 drop a sound: 유월, 시월.
  r.date = {DateTemplates::Order::kDayMonthYear,
            "{y} 년 {month} {d} 일",
            "",
            {"일월", "이월", "삼월", "사월", "오월", "유월", "칠월", "팔월", "구월", "시월", "십일월", "십이월"}};
  return r;
}

// Text of no known language: which words would say "12" is unknown.
LanguageRules AnyLanguage() {
  LanguageRules r;
  r.lang = "na";
  r.icu_locale = "en";
  r.says_numbers = false;
  return r;
}

}  // namespace

const LanguageRules* WrittenLanguageRules(std::string_view lang) {
  static const std::array<LanguageRules, 6> kTables{English(), Portuguese(), Spanish(), French(), Korean(),
                                                    AnyLanguage()};
  for (const LanguageRules& rules : kTables) {
    if (rules.lang == lang) return &rules;
  }
  return nullptr;
}

const std::vector<std::string_view>& AbbreviationsEndingInPeriod() {
  static const std::vector<std::string_view> kAll = [] {
    std::vector<std::string_view> all;
    for (std::string_view lang : {"en", "pt", "es", "fr", "ko"}) {
      for (const Abbreviation& a : WrittenLanguageRules(lang)->abbreviations) {
        // "No." before a number only: "I said no." still ends a sentence.
        if (!a.written.empty() && a.written.back() == '.' && !a.before_number) all.push_back(a.written);
      }
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
  }();
  return kAll;
}

}  // namespace supertonic
