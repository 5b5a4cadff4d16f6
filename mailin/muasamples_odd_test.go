package mailin_test

// The odd samples (testdata/corpus/casegate-odd-samples): mail written for
// casegate with the damage real mail shows and other readers tolerate (a
// line of white space before the header, raw 8-bit names and subjects in
// undeclared charsets, a UTF-8 part with a bad byte, raw 8-bit file names,
// a boundary the body does not use, a multipart without delimiters), each
// with the generator's ground truth: what the sender meant.

import (
	"fmt"
	"strings"
)

const (
	textRussian = `Здравствуйте!

У нас в бухгалтерии опять не печатает принтер: горит красная лампочка, бумага не подаётся. Пришлите, пожалуйста, мастера до пятницы.

С уважением,
Иван Петров
`
	textUkrainianCP1251 = `Добрий день!

Замовлення номер 7731 досі не надійшло, хоча оплату ми зробили ще минулого тижня. Підкажіть, будь ласка, коли чекати доставку?

Дякую,
Ольга Смирнова
`
	textJapanese = `お世話になっております。

昨日注文したプリンターのトナーがまだ届いていません。配送状況を確認していただけますでしょうか。

よろしくお願いいたします。
山田太郎
`
	textChinese = `您好：

我们办公室的打印机从周一开始一直打印出灰色条纹，更换墨盒以后也没有改善。请尽快派技术人员来处理。

谢谢！
王小明
`
	textKorean = `안녕하세요.

지난주에 주문한 프린터 토너가 아직 도착하지 않았습니다. 배송 상황을 확인해 주시겠습니까?

감사합니다.
김철수
`
)

func oddSamples() []*sample {
	var out []*sample
	add := func(s *sample) {
		if s.language == "" {
			s.language = "de-DE"
		}
		out = append(out, s)
	}
	raw := func(text, charset string) subject { return subject{text: text, charset: charset, enc: 'R'} }
	ivan := address{"Иван Петров", "ivan.petrov@zavod.example"}
	olga := address{"Ольга Смирнова", "olga@torg.example"}
	yamada := address{"山田太郎", "yamada@shoji.example"}
	wang := address{"王小明", "wang@bangong.example"}
	kim := address{"김철수", "kim@hoesa.example"}
	// replaceOne swaps the first occurrence of from for to in the encoded
	// bytes: the damage of a sender that pasted one Latin-1 character
	// into UTF-8 text.
	replaceOne := func(from, to string) func([]byte) []byte {
		return func(b []byte) []byte { return []byte(strings.Replace(string(b), from, to, 1)) }
	}

	// A line of white space before the header.
	add(&sample{file: "white-space-line-before-header", style: outlook2000, from: juergen, charset: "iso-8859-1", nameEnc: 'Q', lead: " \n",
		subject: subject{text: "Drucker streikt wieder", charset: "iso-8859-1", enc: 'Q'}, notes: "a line of one space before the header, as some gateways write it",
		body: plain(textPrinter, "iso-8859-1", "quoted-printable")})
	add(&sample{file: "white-space-lines-before-header-lf", style: pine421, from: doris, lead: "\t\n  \n", lf: true,
		subject: subject{text: "Invoice question"}, notes: "a tab line and a space line before the header, LF line ends (an archive's copy)",
		body: plain("Hello,\n\nis invoice 2000-0611 already paid on your side?\n\nDoris\n", "us-ascii", "")})

	// Raw 8-bit display names and subjects.
	add(&sample{file: "raw-latin1-name-and-subject-declared-body", style: eudora42, from: juergen, charset: "iso-8859-1", nameEnc: 'R',
		subject: raw("Rückfrage zur Störung", "iso-8859-1"), notes: "raw ISO-8859-1 in From and Subject; the body declares iso-8859-1",
		body: plain(textPrinter, "iso-8859-1", "8bit")})
	add(&sample{file: "raw-utf8-name-and-subject", style: thunderbird115, from: asa, charset: "utf-8", nameEnc: 'R',
		subject: raw("Trasigt paket – beställning 44871", "utf-8"), notes: "raw UTF-8 in From and Subject (RFC 6532)",
		body: plain(textParcel, "UTF-8", "8bit")})
	add(&sample{file: "raw-koi8r-name-and-subject-declared-body", style: outlook2000, from: ivan, charset: "koi8-r", nameEnc: 'R', language: "ru",
		subject: raw("Не работает принтер в бухгалтерии", "koi8-r"), notes: "raw KOI8-R in From and Subject; the body declares koi8-r",
		body: plain(textRussian, "koi8-r", "8bit")})
	add(&sample{file: "raw-koi8r-undeclared", style: pine421, from: ivan, charset: "koi8-r", nameEnc: 'R', language: "ru",
		subject: raw("Не работает принтер в бухгалтерии", "koi8-r"), notes: "KOI8-R everywhere and declared nowhere: detected",
		body: (&node{mediaType: "text/plain", charset: "koi8-r", undeclared: true, cte: "8bit", data: []byte(textRussian), text: textRussian, role: bodyText})})
	add(&sample{file: "raw-cp1251-undeclared", style: eudora42, from: olga, charset: "windows-1251", nameEnc: 'R', language: "uk",
		subject: raw("Замовлення 7731 досі не надійшло", "windows-1251"), notes: "windows-1251 everywhere and declared nowhere: detected",
		body: (&node{mediaType: "text/plain", charset: "windows-1251", undeclared: true, cte: "8bit", data: []byte(textUkrainianCP1251), text: textUkrainianCP1251, role: bodyText})})
	add(&sample{file: "raw-shift-jis-name-and-subject-declared-body", style: outlook2000, from: yamada, charset: "shift_jis", nameEnc: 'R', language: "ja",
		subject: raw("トナーが届いていません", "shift_jis"), notes: "raw Shift_JIS in From and Subject; the body declares shift_jis",
		body: plain(textJapanese, "shift_jis", "8bit")})
	add(&sample{file: "raw-iso-2022-jp-subject", style: thunderbird115, from: yamada, charset: "iso-2022-jp", nameEnc: 'R', language: "ja",
		subject: raw("トナーが届いていません", "iso-2022-jp"), notes: "ISO-2022-JP escape sequences straight in From and Subject, without encoded-words",
		body: plain(textJapanese, "iso-2022-jp", "7bit")})
	add(&sample{file: "raw-gbk-name-and-subject-declared-body", style: outlook2000, from: wang, charset: "gbk", nameEnc: 'R', language: "zh",
		subject: raw("打印机出现灰色条纹", "gbk"), notes: "raw GBK in From and Subject; the body declares gb2312",
		body: plain(textChinese, "gb2312", "8bit")})
	add(&sample{file: "raw-euc-kr-name-and-subject-declared-body", style: outlook365, from: kim, charset: "euc-kr", nameEnc: 'R', language: "ko",
		subject: raw("토너가 아직 도착하지 않았습니다", "euc-kr"), notes: "raw EUC-KR in From and Subject; the body declares euc-kr",
		body: plain(textKorean, "euc-kr", "8bit")})
	add(&sample{file: "encoded-word-in-quoted-name", style: netscape47, from: elodie, charset: "iso-8859-1", nameEnc: 'W',
		subject: subject{text: "Facture n° 2000-0517", charset: "iso-8859-1", enc: 'Q'}, notes: "an encoded-word inside quotes, which RFC 2047 forbids and mailers write",
		body: plain(textInvoice, "iso-8859-1", "quoted-printable")})

	// A UTF-8 part with one bad byte: the Latin-1 "é" of a pasted word.
	badText := strings.Replace(textInvoice, "vérifier", "v\uFFFDrifier", 1)
	add(&sample{file: "utf8-part-with-a-latin1-byte", style: thunderbird115, from: elodie, charset: "utf-8", nameEnc: 'Q', language: "fr",
		subject: subject{text: "Facture en double", charset: "utf-8", enc: 'Q'}, notes: "one ISO-8859-1 byte in a UTF-8 part: the rest stays UTF-8, the byte becomes U+FFFD",
		body: (&node{mediaType: "text/plain", charset: "UTF-8", cte: "8bit", data: []byte(textInvoice), text: badText, role: bodyText, corrupt: replaceOne("vérifier", "v\xe9rifier")})})

	// Raw 8-bit file names.
	add(&sample{file: "raw-8bit-file-names", style: eudora42, from: juergen, charset: "iso-8859-1", nameEnc: 'Q',
		subject: subject{text: "Protokolle", charset: "iso-8859-1", enc: 'Q'}, notes: "file names in raw ISO-8859-1 and raw UTF-8, in quotes",
		body: multi("mixed", plain(withLine(textPrinter, "Zwei Protokolle."), "iso-8859-1", "quoted-printable"),
			textFile("Störung März.txt", fileNotes, "iso-8859-1", "quoted-printable").named("raw", "iso-8859-1"),
			attached("image/png", "Übersicht.png", redBall, "base64").named("raw", "utf-8"))})

	// Boundaries.
	add(&sample{file: "declared-boundary-unused", style: outlook2000, from: asa, charset: "iso-8859-1", nameEnc: 'Q',
		subject: subject{text: "Foto på lådan", charset: "iso-8859-1", enc: 'Q'}, notes: "the header declares one boundary, the body delimits with another (a relay rewrote one)",
		body: func() *node {
			n := multi("mixed", plain(withLine(textParcel, "Foto bifogat."), "iso-8859-1", "quoted-printable"), attached("image/png", "kopp.png", photoCup, "base64"))
			n.declaredBoundary = "----=_NextPart_000_0000_REWRITTEN.BY.RELAY"
			return n
		}()})
	add(&sample{file: "multipart-without-delimiters", style: gmailWeb, from: peter, charset: "utf-8", nameEnc: 'Q',
		subject: subject{text: "Portal login still failing"}, notes: "multipart/alternative declared, but a gateway left only the text, without delimiters",
		body: func() *node {
			n := multi("alternative", plain(textLogin, "UTF-8", ""), htmlBody(htmlOf(gmailWeb, "UTF-8", textLogin), textLogin, "UTF-8", ""))
			n.noDelimiters = true
			return n
		}()})
	for _, s := range out {
		if s.from.name != "" && s.charset == "" {
			s.charset = "iso-8859-1"
		}
	}
	return out
}

func oddReadme(rows []string) string {
	return `# casegate-odd-samples

Mail written for casegate, not copied from anywhere: ` + fmt.Sprint(len(rows)) + ` messages with the
damage real mail shows and other readers tolerate: lines of white space
before the header; raw 8-bit display names and subjects in ISO-8859-1,
UTF-8, KOI8-R, windows-1251, Shift_JIS, ISO-2022-JP, GBK and EUC-KR,
declared by the body or by nothing; an encoded-word inside a quoted name;
one ISO-8859-1 byte in a UTF-8 part; raw 8-bit file names; a multipart
whose body delimits with another boundary than the declared one; a
multipart without any delimiter.

Everything here, this README included, is written by the generator
` + "`mailin/muasamples_odd_test.go`" + ` (with ` + "`muasamples_test.go`" + `). Do not edit the
files: change the generator and run

    go test ./mailin -run TestMUASamplesUpToDate -update

Each ` + "`.eml`" + ` has a ` + "`.json`" + ` beside it with the generator's ground truth, what
the sender meant: the subject, the From address and display name, the text
(for the UTF-8 part with a bad byte: with U+FFFD where the byte was), the
files by name and decoded size. ` + "`TestCorpus`" + ` compares what casegate
parses with it and counts these messages as people's mail. Names,
addresses and texts are invented. Licensed with casegate itself.

| file | client | covers | files (name, decoded size) |
|---|---|---|---|
` + strings.Join(rows, "\n") + "\n"
}
