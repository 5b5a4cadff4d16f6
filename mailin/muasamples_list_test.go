package mailin_test

// The samples: what each message says and how it is built. Every text is
// written for casegate.

import (
	"fmt"
	"html"
	"strings"
)

// Customer mail in several languages; each fits ISO-8859-1 except
// textEuro, which needs windows-1252 (€ and typographic quotes).
const (
	textPrinter = `Guten Tag,

unser Farblaserdrucker im Büro im zweiten Stock druckt seit Montag nur noch graue Streifen über die ganze Seite. Wir haben die Tonerkartuschen gewechselt und die Trommel gereinigt, aber das Ergebnis ist unverändert.

Können Sie bitte einen Techniker schicken? Wir sind werktags von 8 bis 17 Uhr erreichbar; der Schlüssel für den Serverraum liegt beim Empfang.

Mit freundlichen Grüßen
Jürgen Weiß
Buchhaltung, Müller & Söhne GmbH
`
	textInvoice = `Bonjour,

la facture n° 2000-0517 du mois de mai mentionne deux fois la même livraison de cartouches. Pourriez-vous vérifier et m'envoyer une facture corrigée ? Je préfère ne pas régler le montant avant d'avoir reçu la rectification.

Merci d'avance et bonne journée,
Élodie Garçon
Service achats
`
	textParcel = `Hej,

paketet med beställning 44871 kom fram i går, men lådan var trasig och två av kopparna är söndriga. Jag har tagit foton på förpackningen och bifogar dem.

Kan ni skicka nya koppar, eller ska jag returnera hela beställningen?

Vänliga hälsningar
Åsa Lindström
`
	textAddress = `Buenos días:

¿Podrían cambiar la dirección de envío de mi pedido? Me mudé la semana pasada y la nueva dirección es Calle del Olivo 12, 3.º B, Logroño.

Muchas gracias,
Begoña Núñez
`
	textLogin = `Hello,

the login page of the customer portal has been rejecting my password since this morning, although I can still sign in to the mobile app with the same one. I tried two browsers and cleared the cache.

Could you reset the account or tell me what else to try?

Thanks,
Peter Hollis
`
	textEuro = `Hello,

your offer of 12 March quotes “€ 1.250,00 net” for the maintenance contract – does that include the two on-site visits? The brochure says … “visits extra”.

Kind regards,
Renée O’Brien
`
	// Eudora's trailing text after an attachment.
	textPostscript = "P.S. Die Rechnung für März hängt auch noch offen.\n"
	// A text file customers attach.
	fileNotes = `Fehlerprotokoll Drucker FL-2000
Datum: 15.05.2000
Fehlercode: E-42 (Trommel)
Zähler: 18.442 Seiten
Bemerkung: Streifen über die ganze Breite, auch bei Testseite.
`
	fileOrder = `Bestellnummer;Artikel;Menge;Zustand
44871;Kaffeebecher "Fjäll";6;2 zerbrochen
44871;Untertasse "Fjäll";6;in Ordnung
`
	fileASCII = `Steps to reproduce
1. Open https://portal.example/login
2. Enter the user name and password
3. Press "Sign in": the page reloads with "Invalid credentials"
`
)

// The files: small PNGs drawn by ballPNG, text files, a stand-in document.
var (
	redBall    = ballPNG(24, 0xcc, 0x22, 0x22)
	blueBall   = ballPNG(20, 0x22, 0x44, 0xcc)
	greenBall  = ballPNG(28, 0x22, 0xaa, 0x44)
	yellowBall = ballPNG(16, 0xee, 0xcc, 0x11)
	photoBox   = ballPNG(96, 0x8b, 0x5a, 0x2b) // a 27 KB "photo"
	photoCup   = ballPNG(64, 0xf0, 0xf0, 0xe0)
	document   = pseudoRandom(0x5eed, 9000)
)

// withLine adds a last line naming what is attached, so each message's
// text is its own.
func withLine(text, line string) string { return text + "\n" + line + "\n" }

// htmlOf renders a text as the HTML a client writes for it, with images
// referenced by Content-ID at the end.
func htmlOf(st *style, charset, text string, cids ...string) string {
	var paras []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		paras = append(paras, strings.ReplaceAll(html.EscapeString(p), "\n", "<br>\n"))
	}
	var imgs string
	for _, c := range cids {
		imgs += fmt.Sprintf(`<img src="cid:%s">`, c) + "\n"
	}
	switch st {
	case outlook2000:
		var b strings.Builder
		b.WriteString("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.0 Transitional//EN\">\n<HTML><HEAD>\n")
		b.WriteString(`<META content="text/html; charset=` + charset + `" http-equiv=Content-Type>` + "\n")
		b.WriteString("<META content=\"MSHTML 5.00.2314.1000\" name=GENERATOR>\n<STYLE></STYLE>\n</HEAD>\n<BODY bgColor=#ffffff>\n")
		for _, p := range paras {
			b.WriteString("<DIV><FONT face=Arial size=2>" + p + "</FONT></DIV>\n<DIV>&nbsp;</DIV>\n")
		}
		b.WriteString(strings.ReplaceAll(imgs, "<img", "<IMG"))
		b.WriteString("</BODY></HTML>\n")
		return b.String()
	case eudora42:
		return "<html>\n" + strings.Join(paras, "<br>\n<br>\n") + "<br>\n" + imgs + "</html>\n"
	case netscape47:
		return "<!doctype html public \"-//w3c//dtd html 4.0 transitional//en\">\n<html>\n" +
			strings.Join(paras, "\n<p>") + "\n<p>" + imgs + "</html>\n"
	case gmailWeb:
		return `<div dir="ltr">` + strings.Join(paras, "<div><br></div>") + "</div>" + imgs + "\n"
	}
	// Thunderbird, Apple Mail, Outlook for Microsoft 365: a full document.
	return "<html><head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=" + charset + "\">\n</head>\n<body>\n<p>" +
		strings.Join(paras, "</p>\n<p>") + "</p>\n" + imgs + "</body>\n</html>\n"
}

// alternative is a multipart/alternative of a text and its HTML.
func alternative(st *style, text, charset, textCTE, htmlCharset, htmlCTE string, cids ...string) *node {
	return multi("alternative", plain(text, charset, textCTE), htmlBody(htmlOf(st, htmlCharset, text, cids...), text, htmlCharset, htmlCTE))
}

var (
	juergen = address{"Jürgen Weiß", "juergen.weiss@mueller-soehne.example"}
	elodie  = address{"Élodie Garçon", "elodie.garcon@papeterie-lyon.example"}
	asa     = address{"Åsa Lindström", "asa.lindstrom@fjallmail.example"}
	begona  = address{"Begoña Núñez", "begona@correo-rioja.example"}
	peter   = address{"Peter Hollis", "peter.hollis@hollis-design.example"}
	renee   = address{"Renée O’Brien", "renee.obrien@harbourlights.example"}
	doris   = address{"Doris Kessler", "dkessler@penguin.example"}
	tomasz  = address{"Tomasz Wierzbicki", "tomasz@harbour.example"}
)

func muaSamples() []*sample {
	var out []*sample
	add := func(s *sample) {
		if s.charset == "" {
			s.charset = "iso-8859-1"
		}
		if s.nameEnc == 0 {
			s.nameEnc = 'Q'
		}
		if s.language == "" {
			s.language = "de-DE"
		}
		out = append(out, s)
	}
	subj := func(text, charset string, enc byte) subject { return subject{text: text, charset: charset, enc: enc} }
	none := subject{absent: true}
	ascii := func(text string) subject { return subject{text: text} }

	// Microsoft Outlook 2000.
	o := outlook2000
	add(&sample{file: "plain-us-ascii-7bit", style: o, from: peter, subject: ascii("Cannot log in to the customer portal"),
		body: plain(textLogin, "us-ascii", "7bit")})
	add(&sample{file: "plain-iso-8859-1-qp", style: o, from: juergen, subject: subj("Drucker druckt nur graue Streifen (Büro 2. Stock)", "iso-8859-1", 'Q'),
		body: plain(textPrinter, "iso-8859-1", "quoted-printable")})
	add(&sample{file: "plain-windows-1252-qp", style: o, from: renee, charset: "windows-1252", subject: subj("Wartungsvertrag – Besuche vor Ort?", "Windows-1252", 'Q'),
		body: plain(textEuro, "Windows-1252", "quoted-printable")})
	add(&sample{file: "plain-utf-7-qp", style: o, from: juergen, subject: subj("Drucker: Störung seit Montag", "utf-7", 'Q'),
		body: plain(textPrinter, "utf-7", "quoted-printable")})
	add(&sample{file: "plain-utf-8-qp", style: o, from: elodie, charset: "utf-8", subject: subj("Facture n° 2000-0517 en double", "utf-8", 'Q'),
		body: plain(textInvoice, "utf-8", "quoted-printable")})
	add(&sample{file: "plain-iso-8859-1-8bit-no-subject", style: o, from: asa, subject: none,
		body: plain(textParcel, "iso-8859-1", "8bit")})
	add(&sample{file: "plain-iso-8859-1-base64-no-subject", style: o, from: begona, subject: none,
		body: plain(textAddress, "iso-8859-1", "base64")})
	add(&sample{file: "image-only", style: o, from: asa, subject: ascii("Photo of the parcel"), notes: "the whole message is one image/png attachment; no text",
		body: attached("image/png", "karton.png", photoCup, "base64")})
	add(&sample{file: "mixed-text-two-pngs", style: o, from: asa, subject: subj("Trasigt paket, beställning 44871", "iso-8859-1", 'Q'),
		body: multi("mixed", plain(withLine(textParcel, "Bilagor: blueball.png, redball.png"), "iso-8859-1", "quoted-printable"),
			attached("image/png", "blueball.png", blueBall, "base64"), attached("image/png", "redball.png", redBall, "base64"))})
	add(&sample{file: "mixed-text-three-pngs", style: o, from: juergen, subject: subj("Fotos vom Ausdruck", "iso-8859-1", 'Q'),
		body: multi("mixed", plain(withLine(textPrinter, "Anbei drei Fotos."), "iso-8859-1", "quoted-printable"),
			attached("image/png", "blueball.png", blueBall, "base64"), attached("image/png", "greenball.png", greenBall, "base64"),
			attached("image/png", "redball.png", redBall, "base64"))})
	add(&sample{file: "alternative-qp-html-meta", style: o, from: elodie, subject: subj("Facture corrigée, s'il vous plaît", "iso-8859-1", 'Q'),
		notes: "the HTML's META is quoted-printable (=3D)",
		body:  alternative(o, textInvoice, "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable")})
	add(&sample{file: "mixed-alternative-png", style: o, from: juergen, subject: subj("Streifen auf jeder Seite", "iso-8859-1", 'Q'),
		body: multi("mixed", alternative(o, withLine(textPrinter, "Foto anbei."), "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable"),
			attached("image/png", "greenball.png", greenBall, "base64"))})
	add(&sample{file: "related-alternative-inline-png", style: o, from: asa, subject: subj("Lådan, se bilden", "iso-8859-1", 'Q'),
		body: multi("related", alternative(o, textParcel, "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable", "001a01bfc038$5a5c8e60$0a00a8c0@lighthouse"),
			inlineImage("blueball.png", "001a01bfc038$5a5c8e60$0a00a8c0@lighthouse", blueBall)).with(kv{"type", `"multipart/alternative"`})})
	add(&sample{file: "mixed-related-alternative", style: o, from: juergen, subject: subj("Drucker: Fotos und Fehlerprotokoll", "iso-8859-1", 'Q'),
		body: multi("mixed",
			multi("related", alternative(o, withLine(textPrinter, "Foto im Text, Protokoll als Anhang."), "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable", "002b01bfc038$b91bc650$0a00a8c0@lighthouse"),
				inlineImage("blueball.png", "002b01bfc038$b91bc650$0a00a8c0@lighthouse", blueBall)).with(kv{"type", `"multipart/alternative"`}),
			attached("image/png", "redball.png", redBall, "base64"),
			textFile("fehler.txt", fileNotes, "iso-8859-1", "quoted-printable"))})
	add(&sample{file: "mixed-rfc2047-file-name", style: o, from: juergen, subject: subj("Protokoll für März", "iso-8859-1", 'Q'),
		body: multi("mixed", plain(withLine(textPrinter, "Protokoll anbei."), "iso-8859-1", "quoted-printable"),
			textFile("Störungsprotokoll März.txt", fileNotes, "iso-8859-1", "quoted-printable").named("rfc2047-q", "iso-8859-1"))})

	// Netscape Communicator 4.7.
	n := netscape47
	add(&sample{file: "plain-us-ascii-7bit", style: n, from: peter, subject: ascii("Portal login fails since this morning"),
		body: plain(textLogin, "us-ascii", "7bit")})
	add(&sample{file: "plain-iso-8859-1-qp-partly-encoded-subject", style: n, from: elodie, subject: subj("Facture en double, vérification demandée", "iso-8859-1", 'W'),
		notes: "only the words that need it are encoded-words",
		body:  plain(textInvoice, "iso-8859-1", "quoted-printable")})
	add(&sample{file: "plain-utf-8-qp", style: n, from: tomasz, charset: "utf-8", subject: subj("Zmiana adresu – zamówienie 5521", "utf-8", 'W'),
		body: plain("Dzień dobry,\n\nproszę o zmianę adresu dostawy zamówienia 5521 na ul. Źródlaną 7, Łódź.\n\nZ poważaniem\nTomasz Wierzbicki\n", "UTF-8", "quoted-printable")})
	add(&sample{file: "plain-utf-7-7bit", style: n, from: juergen, subject: subj("Drucker: Grüße und Dank", "utf-7", 'Q'),
		body: plain("Vielen Dank für die schnelle Hilfe, der Drucker läuft wieder einwandfrei.\n\nGrüße\nJürgen Weiß\n", "UTF-7", "7bit")})
	add(&sample{file: "mixed-text-inline-png", style: n, from: asa, subject: subj("Foto på lådan", "iso-8859-1", 'W'),
		body: multi("mixed", plain(withLine(textParcel, "Foto: blueball.png"), "iso-8859-1", "quoted-printable"),
			&node{mediaType: "image/png", name: "blueball.png", nameStyle: "quoted", data: blueBall, cte: "base64", disp: "inline", role: file})})
	add(&sample{file: "mixed-two-pngs-and-text-file", style: n, from: peter, subject: ascii("Screenshots and steps"),
		body: multi("mixed", plain(withLine(textLogin, "Attached: two screenshots and the steps."), "us-ascii", "7bit"),
			attached("image/png", "blueball.png", blueBall, "base64"), attached("image/png", "greenball.png", greenBall, "base64"),
			textFile("steps.txt", fileASCII, "us-ascii", "7bit"))})
	add(&sample{file: "mixed-alternative-related-unnamed-images", style: n, from: asa, subject: subj("Bilder på skadorna", "iso-8859-1", 'W'),
		notes: "the HTML's images carry no name, only a Content-ID",
		body: multi("mixed",
			multi("alternative", plain(withLine(textParcel, "Två bilder."), "iso-8859-1", "quoted-printable"),
				multi("related", htmlBody(htmlOf(n, "us-ascii", "Two pictures of the damage.", "part1.3927F1A2.5D3B8C41@harbour.example", "part2.3927F1A2.5D3B8C41@harbour.example"), "Two pictures of the damage.", "us-ascii", "7bit"),
					&node{mediaType: "image/png", nameStyle: "none", data: redBall, cte: "base64", contentID: "part1.3927F1A2.5D3B8C41@harbour.example", role: file},
					&node{mediaType: "image/png", nameStyle: "none", data: greenBall, cte: "base64", contentID: "part2.3927F1A2.5D3B8C41@harbour.example", role: file})),
			attached("image/png", "yellowball.png", yellowBall, "base64"))})
	add(&sample{file: "mixed-related-windows-path-names", style: n, from: peter, subject: ascii("Error page, two screenshots"),
		notes: "the file names are Windows paths, C:\\TEMP\\…",
		body: multi("mixed",
			multi("related", htmlBody(htmlOf(n, "us-ascii", textLogin, "part1.39280A11.6E4C9D52@harbour.example"), textLogin, "us-ascii", "7bit"),
				&node{mediaType: "image/png", name: "nsmail0.png", nameStyle: "windows-path", nameWhere: "disposition", data: redBall, cte: "base64", disp: "inline", contentID: "part1.39280A11.6E4C9D52@harbour.example", role: file}),
			&node{mediaType: "image/png", name: "nsmail1.png", nameStyle: "windows-path", nameWhere: "disposition", data: blueBall, cte: "base64", disp: "inline", role: file})})
	add(&sample{file: "alternative-qp-and-html-7bit", style: n, from: juergen, subject: subj("Drucker: Rückruf erbeten", "iso-8859-1", 'W'),
		body: alternative(n, textPrinter, "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable")})
	add(&sample{file: "mixed-rfc2047-quoted-file-name", style: n, from: juergen, subject: ascii("Fehlerprotokoll"),
		body: multi("mixed", plain("Das Protokoll liegt bei.\n\nJürgen Weiß\n", "iso-8859-1", "quoted-printable"),
			textFile("Störung.txt", fileNotes, "iso-8859-1", "quoted-printable").named("rfc2047-q", "iso-8859-1"))})
	add(&sample{file: "mixed-uuencoded-pngs", style: n, from: asa, subject: ascii("Photos (uuencoded)"),
		body: multi("mixed", plain(withLine(textParcel, "Två foton."), "iso-8859-1", "quoted-printable"),
			attached("image/png", "redball.png", redBall, "x-uuencode"), attached("image/png", "greenball.png", greenBall, "x-uuencode"))})
	add(&sample{file: "mixed-text-three-pngs", style: n, from: juergen, subject: subj("Drei Fotos vom Ausdruck", "iso-8859-1", 'W'),
		body: multi("mixed", plain(withLine(textPrinter, "Drei Fotos."), "iso-8859-1", "quoted-printable"),
			attached("image/png", "redball.png", redBall, "base64"), attached("image/png", "greenball.png", greenBall, "base64"),
			attached("image/png", "blueball.png", blueBall, "base64"))})

	// QUALCOMM Eudora Pro 4.2.
	e := eudora42
	add(&sample{file: "plain-us-ascii-no-encoding", style: e, from: peter, subject: ascii("Password rejected on the portal"),
		body: plain(textLogin, "us-ascii", "")})
	add(&sample{file: "plain-flowed-qp-no-subject", style: e, from: juergen, subject: none,
		notes: "format=flowed: lines end in a space where they were wrapped",
		body:  plain(flowed(textPrinter), "iso-8859-1", "quoted-printable", kv{"format", "flowed"})})
	add(&sample{file: "plain-iso-8859-1-8bit", style: e, from: begona, subject: subj("Cambio de dirección de envío", "iso-8859-1", 'Q'),
		body: plain(textAddress, "iso-8859-1", "8bit")})
	add(&sample{file: "plain-iso-8859-1-qp", style: e, from: elodie, subject: subj("Facture n° 2000-0517", "iso-8859-1", 'Q'),
		body: plain(textInvoice, "iso-8859-1", "quoted-printable")})
	add(&sample{file: "html-only-qp", style: e, from: juergen, subject: subj("Drucker (HTML)", "iso-8859-1", 'Q'),
		body: htmlBody(htmlOf(e, "iso-8859-1", textPrinter), textPrinter, "iso-8859-1", "quoted-printable")})
	add(&sample{file: "alternative", style: e, from: asa, subject: subj("Paketet är trasigt", "iso-8859-1", 'Q'),
		body: alternative(e, textParcel, "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable")})
	add(&sample{file: "mixed-binhex", style: e, from: juergen, subject: ascii("Foto (BinHex)"),
		notes: "application/mac-binhex40: the attachment's body is the BinHex text",
		body: multi("mixed", plain(withLine(textPrinter, "Foto anbei."), "iso-8859-1", "quoted-printable"),
			&node{mediaType: "application/mac-binhex40", name: "blueball.png", nameStyle: "quoted", data: binhex("blueball.png", "PNGf", "8BIM", blueBall), disp: "attachment", role: file})})
	add(&sample{file: "mixed-uuencoded-pngs", style: e, from: peter, subject: ascii("Two screenshots"),
		body: multi("mixed", plain(withLine(textLogin, "Two screenshots attached."), "us-ascii", ""),
			attached("image/png", "greenball.png", greenBall, "x-uuencode"), attached("image/png", "blueball.png", blueBall, "x-uuencode"))})
	add(&sample{file: "mixed-png-text-file-trailing-text", style: e, from: juergen, subject: ascii("Fehlerbericht mit Anlagen"),
		notes: "a second inline text part follows the attachments, as Eudora writes it",
		body: multi("mixed", plain(withLine(textPrinter, "Foto und Protokoll anbei."), "iso-8859-1", "quoted-printable"),
			attached("image/png", "blueball.png", blueBall, "base64"),
			textFile("protokoll.txt", fileASCII, "us-ascii", ""),
			&node{mediaType: "text/plain", charset: "iso-8859-1", cte: "quoted-printable", data: []byte(textPostscript), text: textPostscript, role: other})})
	add(&sample{file: "related-html-inline-pngs", style: e, from: asa, subject: ascii("Bilder i texten"),
		body: multi("related", htmlBody(htmlOf(e, "iso-8859-1", textParcel, "4.2.0.58.20000519114321.00a8e3c0@mail.meadow.example.1", "4.2.0.58.20000519114321.00a8e3c0@mail.meadow.example.2"), textParcel, "iso-8859-1", "quoted-printable"),
			inlineImage("2aa48eb6.png", "4.2.0.58.20000519114321.00a8e3c0@mail.meadow.example.1", redBall),
			inlineImage("2aa48ec0.png", "4.2.0.58.20000519114321.00a8e3c0@mail.meadow.example.2", greenBall)).with(kv{"type", `"text/html"`})})
	add(&sample{file: "mixed-related-html-and-attachments", style: e, from: juergen, subject: ascii("Fotos im Text und als Anhang"),
		body: multi("mixed",
			multi("related", htmlBody(htmlOf(e, "iso-8859-1", textPrinter, "4.2.0.58.20000519115502.00a8f1e0@mail.meadow.example.1"), textPrinter, "iso-8859-1", "quoted-printable"),
				inlineImage("2aa51367.png", "4.2.0.58.20000519115502.00a8f1e0@mail.meadow.example.1", yellowBall)).with(kv{"type", `"text/html"`}),
			attached("image/png", "blueball.png", blueBall, "base64"), attached("image/png", "greenball.png", greenBall, "base64"))})
	add(&sample{file: "related-alternative-inline-pngs", style: e, from: elodie, subject: ascii("Facture et tampon"),
		body: multi("related", alternative(e, textInvoice, "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable", "4.2.0.58.20000519120101.00a90000@mail.meadow.example.1", "4.2.0.58.20000519120101.00a90000@mail.meadow.example.2"),
			inlineImage("blueball.png", "4.2.0.58.20000519120101.00a90000@mail.meadow.example.1", blueBall),
			inlineImage("redball.png", "4.2.0.58.20000519120101.00a90000@mail.meadow.example.2", redBall)).with(kv{"type", `"multipart/alternative"`})})
	add(&sample{file: "mixed-related-alternative-and-attachment", style: e, from: asa, subject: ascii("Kopparna, bilder"),
		body: multi("mixed",
			multi("related", alternative(e, withLine(textParcel, "En bild i texten, en som bilaga."), "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable", "4.2.0.58.20000519121500.00a91111@mail.meadow.example.1"),
				inlineImage("2aa3ed95.png", "4.2.0.58.20000519121500.00a91111@mail.meadow.example.1", greenBall)).with(kv{"type", `"multipart/alternative"`}),
			attached("image/png", "karton.png", photoBox, "base64"))})
	add(&sample{file: "mixed-uuencoded-text-file", style: e, from: juergen, subject: ascii("Protokoll (uuencode)"),
		body: multi("mixed", plain(withLine(textPrinter, "Protokoll anbei."), "iso-8859-1", "quoted-printable"),
			textFile("fehler.txt", fileASCII, "us-ascii", "x-uuencode"))})
	add(&sample{file: "mixed-related-plain-root", style: e, from: asa, subject: ascii("Text och bilder"),
		notes: "a multipart/related whose root is text/plain",
		body: multi("mixed",
			multi("related", plain(withLine(textParcel, "Bilderna följer."), "iso-8859-1", "quoted-printable"),
				inlineImage("2aa5e03a.png", "4.2.0.58.20000519123000.00a92222@mail.meadow.example.1", redBall),
				inlineImage("2aa5e044.png", "4.2.0.58.20000519123000.00a92222@mail.meadow.example.2", blueBall)).with(kv{"type", `"text/plain"`}),
			attached("image/png", "greenball.png", greenBall, "base64"))})

	// Pine 4.21: capitals, BASE64, a preamble, RFC 2231 names.
	p := pine421
	add(&sample{file: "plain-us-ascii", style: p, from: doris, subject: ascii("Invoice 2000-0611 arrived twice"),
		body: plain("Hello,\n\nwe received invoice 2000-0611 twice, once by post and once by mail.\nPlease confirm we only need to pay it once.\n\nDoris Kessler\n", "us-ascii", "")})
	add(&sample{file: "plain-iso-8859-1-qp", style: p, from: juergen, subject: subj("Drucker: Trommel getauscht, Streifen bleiben", "iso-8859-1", 'Q'),
		body: plain(textPrinter, "iso-8859-1", "quoted-printable")})
	add(&sample{file: "mixed-two-pngs-base64", style: p, from: doris, subject: ascii("PNG graphics"),
		body: multi("mixed", plain("Two pictures of the label, as you asked.\n\nDoris\n", "us-ascii", ""),
			attached("application/octet-stream", "redball.png", redBall, "base64"), attached("application/octet-stream", "blueball.png", blueBall, "base64"))})
	add(&sample{file: "mixed-one-png", style: p, from: doris, subject: ascii("PNG graphic"),
		body: multi("mixed", plain("The label, photographed.\n\nDoris\n", "us-ascii", ""),
			attached("application/octet-stream", "redball.png", redBall, "base64"))})
	add(&sample{file: "mixed-rfc2231-file-name", style: p, from: juergen, subject: subj("Störungsprotokoll", "iso-8859-1", 'Q'),
		body: multi("mixed", plain("Das Protokoll hängt an.\n\nJürgen\n", "iso-8859-1", "quoted-printable"),
			textFile("Störungsprotokoll.txt", fileNotes, "iso-8859-1", "base64").named("rfc2231", "iso-8859-1"))})
	add(&sample{file: "mixed-rfc2231-quoted-file-name", style: p, from: asa, subject: ascii("Beställning"),
		notes: "an RFC 2231 extended value in quotes, which the RFC does not allow and clients write",
		body: multi("mixed", plain("Beställningen bifogas.\n\nÅsa\n", "iso-8859-1", "quoted-printable"),
			textFile("Beställning 44871.csv", fileOrder, "iso-8859-1", "base64").named("rfc2231-quoted", "iso-8859-1"))})
	add(&sample{file: "plain-lf-line-ends", style: p, from: doris, subject: ascii("Re: delivery date"), lf: true,
		notes: "saved from a Unix mailbox: LF line ends",
		body:  plain("Thursday suits us; someone is at the door from 9 to 5.\n\nDoris\n", "us-ascii", "")})
	add(&sample{file: "mixed-lf-line-ends", style: p, from: doris, subject: ascii("Label photo"), lf: true,
		body: multi("mixed", plain("The label again, sharper this time.\n\nDoris\n", "us-ascii", ""),
			attached("image/png", "label.png", photoCup, "base64"))})
	add(&sample{file: "mixed-text-file-8bit", style: p, from: juergen, subject: ascii("Protokoll als Text"),
		body: multi("mixed", plain("Protokoll anbei.\n", "us-ascii", ""),
			textFile("protokoll.txt", fileNotes, "iso-8859-1", "8bit"))})

	// Thunderbird 115.
	t := thunderbird115
	add(&sample{file: "plain-utf-8-flowed-8bit", style: t, from: juergen, charset: "utf-8", subject: subj("Drucker im Büro: graue Streifen", "UTF-8", 'Q'),
		body: plain(flowed(textPrinter), "UTF-8", "8bit", kv{"format", "flowed"})})
	add(&sample{file: "mixed-rfc2231-continued-name", style: t, from: elodie, language: "fr", charset: "utf-8", subject: subj("Facture corrigée et bon de livraison", "UTF-8", 'Q'),
		notes: "a long UTF-8 file name in RFC 2231 continuations",
		body: multi("mixed", plain(flowed(withLine(textInvoice, "Pièce jointe : le bon de livraison.")), "UTF-8", "8bit", kv{"format", "flowed"}),
			attached("application/octet-stream", "Bon de livraison n° 2000-0517 – copie signée par le réceptionnaire.bin", document, "base64").named("rfc2231-continued", "UTF-8"))})
	add(&sample{file: "alternative-utf-8-qp", style: t, from: asa, language: "sv", charset: "utf-8", subject: subj("Trasiga koppar – vad gör jag?", "UTF-8", 'Q'),
		body: alternative(t, textParcel, "UTF-8", "quoted-printable", "UTF-8", "quoted-printable")})
	add(&sample{file: "plain-windows-1252-8bit", style: t, from: renee, language: "en-GB", charset: "windows-1252", subject: subj("Maintenance contract – visits?", "windows-1252", 'Q'),
		body: plain(textEuro, "windows-1252", "8bit")})
	add(&sample{file: "mixed-png-and-csv", style: t, from: asa, language: "sv", charset: "utf-8", subject: subj("Bilder och beställningslista", "UTF-8", 'Q'),
		body: multi("mixed", plain(flowed(withLine(textParcel, "Bifogat: foto och lista.")), "UTF-8", "8bit", kv{"format", "flowed"}),
			attached("image/png", "lådan.png", photoBox, "base64").named("rfc2231", "UTF-8"),
			textFile("beställning.csv", fileOrder, "UTF-8", "base64").named("rfc2231", "UTF-8"))})

	// Apple Mail 16.
	a := appleMail
	add(&sample{file: "plain-utf-8-qp", style: a, from: begona, language: "es", charset: "utf-8", subject: subj("Cambio de dirección", "utf-8", 'Q'),
		body: plain(textAddress, "utf-8", "quoted-printable")})
	add(&sample{file: "alternative-with-attachment-inside", style: a, from: renee, language: "en", charset: "utf-8", subject: subj("Offer – signed copy", "utf-8", 'Q'),
		notes: "Apple Mail puts the attachment inside the HTML alternative, in a mixed part",
		body: multi("alternative", plain(withLine(textEuro, "Signed copy attached."), "utf-8", "quoted-printable"),
			multi("mixed", htmlBody(htmlOf(a, "utf-8", textEuro), textEuro, "utf-8", "quoted-printable"),
				attached("application/octet-stream", "offer-signed.bin", document[:4100], "base64").with(kv{"x-unix-mode", "0644"}),
				htmlBody("<html><body><p>Renée</p></body></html>\n", "Renée", "utf-8", "quoted-printable")))})
	add(&sample{file: "mixed-inline-image", style: a, from: asa, language: "sv", charset: "utf-8", subject: subj("Bild på lådan", "utf-8", 'Q'),
		body: multi("mixed", plain(withLine(textParcel, "Bilden:"), "utf-8", "quoted-printable"),
			&node{mediaType: "image/png", name: "IMG_0412.png", nameStyle: "token", data: photoBox, cte: "base64", disp: "inline", role: file},
			plain("\nÅsa\n", "utf-8", "quoted-printable").as(other))})

	// Gmail.
	gm := gmailWeb
	add(&sample{file: "alternative-utf-8", style: gm, from: peter, subject: ascii("Portal password not accepted"),
		body: alternative(gm, textLogin, "UTF-8", "", "UTF-8", "")})
	add(&sample{file: "mixed-alternative-png", style: gm, from: begona, charset: "utf-8", nameEnc: 'B', subject: subj("Dirección nueva, foto del buzón", "UTF-8", 'B'),
		body: multi("mixed", alternative(gm, withLine(textAddress, "Adjunto una foto del buzón."), "UTF-8", "quoted-printable", "UTF-8", "quoted-printable"),
			&node{mediaType: "image/png", name: "buzón.png", nameStyle: "rfc2047-b", nameCharset: "UTF-8", data: photoCup, cte: "base64", disp: "attachment", contentID: "f_lx3k9v2a0@gmail", role: file})})
	add(&sample{file: "plain-base64-utf-8", style: gm, from: tomasz, charset: "utf-8", nameEnc: 'B', subject: subj("Zamówienie 5521 – pytanie", "UTF-8", 'B'),
		body: plain("Dzień dobry,\n\nczy zamówienie 5521 zostało już wysłane?\n\nPozdrawiam\nTomasz\n", "UTF-8", "base64")})

	// Outlook for Microsoft 365.
	x := outlook365
	add(&sample{file: "related-alternative-image001", style: x, from: renee, language: "en-US", charset: "utf-8", subject: ascii("Maintenance contract - signature page"),
		body: multi("related", alternative(x, withLine(textEuro, "[cid:image001.png@01DAB9F2.5C3E1A70]"), "windows-1252", "quoted-printable", "windows-1252", "quoted-printable", "image001.png@01DAB9F2.5C3E1A70"),
			&node{mediaType: "image/png", name: "image001.png", nameStyle: "quoted", description: "image001.png", data: yellowBall, cte: "base64", disp: "inline", contentID: "image001.png@01DAB9F2.5C3E1A70", role: file}).with(kv{"type", `"multipart/alternative"`})})
	add(&sample{file: "mixed-alternative-utf-8-name", style: x, from: juergen, language: "de-DE", charset: "utf-8", nameEnc: 'B', subject: subj("AW: Drucker – Rechnung für die Reparatur", "utf-8", 'B'),
		body: multi("mixed", alternative(x, withLine(textPrinter, "Die Rechnung hängt an."), "iso-8859-1", "quoted-printable", "iso-8859-1", "quoted-printable"),
			&node{mediaType: "application/octet-stream", name: "Rechnung Reparatur März.bin", nameStyle: "rfc2047-b", nameCharset: "utf-8", description: "Rechnung Reparatur März.bin", data: document[:6000], cte: "base64", disp: "attachment", role: file})})
	add(&sample{file: "plain-us-ascii-qp", style: x, from: peter, language: "en-US", subject: ascii("RE: Cannot log in to the customer portal"),
		body: plain(textLogin, "us-ascii", "quoted-printable")})
	return out
}

func (n *node) as(r role) *node { n.role = r; return n }

// flowed wraps each paragraph line at 66 characters with a trailing space
// where it was wrapped (RFC 3676 §4.2). The ground truth stays the
// wrapped text: that is the text/plain body as sent.
func flowed(text string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for len(line) > 66 {
			cut := strings.LastIndexByte(line[:66], ' ')
			if cut <= 0 {
				break
			}
			out = append(out, line[:cut+1])
			line = line[cut+1:]
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
